//! The API document against the live server. The test fetches `GET /api/v1/openapi.json` from a
//! real server and, for every operation in it, makes requests from the document alone: values at
//! the documented bounds and values that break each constraint (classified valid or invalid by
//! the document's own schema, never by the test's opinion), every property missing or of the
//! wrong type, wrong content types, malformed JSON, bodies at the size limit and one byte over,
//! a body that breaks off, and missing, unknown and ended bearer tokens. Every answer must have a
//! status the operation lists, a body its schema describes (required properties, types, enums,
//! lengths, patterns, and no property the schema does not name) and the headers it lists; a
//! request the document calls valid must never be refused as invalid (400, 413, 415, 422), and
//! none may get a 500.
//! Every status an operation lists must turn up, except the ones this server cannot be made to
//! answer here (408, 500); 429 and 503 have tests of their own.
//!
//! `CONTRACT_VERBOSE=1` prints every request and its answer; `CONTRACT_DUMP=<file>` writes the
//! document there.

#[macro_use]
mod common;

use common::*;
use regex::Regex;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---- the document ------------------------------------------------------------------------------

struct Doc {
    root: Value,
    patterns: Mutex<HashMap<String, Regex>>,
}

/// One operation of the document.
struct Op {
    method: Method,
    path: String,
    spec: Value,
}

impl Op {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn statuses(&self) -> BTreeSet<u16> {
        self.spec["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .map(|k| k.parse().expect("a numeric status"))
            .collect()
    }

    fn secured(&self) -> bool {
        self.spec["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|req| req.as_object().is_some_and(|r| !r.is_empty())))
    }
}

impl Doc {
    fn new(root: Value) -> Self {
        Doc { root, patterns: Mutex::new(HashMap::new()) }
    }

    fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        while let Some(r) = v.get("$ref").and_then(Value::as_str) {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("a reference outside the document: {r}"));
            v = self.root.pointer(pointer).unwrap_or_else(|| panic!("a reference to nothing: {r}"));
        }
        v
    }

    fn operations(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        for (path, item) in self.root["paths"].as_object().expect("paths") {
            for (method, spec) in item.as_object().unwrap() {
                if !["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str()) {
                    continue;
                }
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("an HTTP method");
                ops.push(Op { method, path: path.clone(), spec: spec.clone() });
            }
        }
        ops
    }

    fn body_limit(&self) -> usize {
        self.root["x-body-limit-bytes"].as_u64().expect("x-body-limit-bytes") as usize
    }

    fn regex(&self, pattern: &str) -> Regex {
        let mut cache = self.patterns.lock().unwrap();
        cache
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).unwrap_or_else(|e| panic!("pattern {pattern}: {e}")))
            .clone()
    }

    /// Why `value` does not match `schema`; empty when it does. `closed`: an object may hold only
    /// the properties its schema names (answers); requests may carry more (they are ignored).
    fn errors(&self, schema: &Value, value: &Value, closed: bool) -> Vec<String> {
        let mut out = Vec::new();
        self.check(schema, value, closed, "$", &mut out);
        out
    }

    fn check(&self, schema: &Value, value: &Value, closed: bool, at: &str, out: &mut Vec<String>) {
        let schema = self.resolve(schema);
        for part in schema["allOf"].as_array().into_iter().flatten() {
            // The union of the parts' properties is checked below, not each part's alone.
            self.check(part, value, false, at, out);
        }
        if let Some(alternatives) = schema["oneOf"].as_array() {
            let matching = alternatives.iter().filter(|s| self.errors(s, value, closed).is_empty()).count();
            if matching != 1 {
                let why: Vec<String> = alternatives.iter().flat_map(|s| self.errors(s, value, closed)).collect();
                out.push(format!(
                    "{at}: matches {matching} of {} alternatives ({})",
                    alternatives.len(),
                    why.join("; ")
                ));
            }
        }
        if let Some(allowed) = schema["enum"].as_array() {
            if !allowed.contains(value) {
                out.push(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                other => panic!("type {other}"),
            };
            if !types.iter().any(|t| is_type(value, t)) {
                out.push(format!("{at}: {value} is not of type {types:?}"));
                return;
            }
        }
        match value {
            Value::String(s) => {
                let n = s.chars().count() as u64;
                if let Some(min) = schema["minLength"].as_u64().filter(|min| n < *min) {
                    out.push(format!("{at}: {n} characters, fewer than {min}"));
                }
                if let Some(max) = schema["maxLength"].as_u64().filter(|max| n > *max) {
                    out.push(format!("{at}: {n} characters, more than {max}"));
                }
                if let Some(pattern) = schema["pattern"].as_str() {
                    if !self.regex(pattern).is_match(s) {
                        out.push(format!("{at}: {s:?} does not match the pattern"));
                    }
                }
                if schema["format"] == "date-time" && !self.regex(DATE_TIME).is_match(s) {
                    out.push(format!("{at}: {s:?} is not a date-time"));
                }
            }
            Value::Number(n) => {
                let n = n.as_f64().unwrap();
                if let Some(min) = schema["minimum"].as_f64().filter(|min| n < *min) {
                    out.push(format!("{at}: {n} is less than {min}"));
                }
                if let Some(max) = schema["maximum"].as_f64().filter(|max| n > *max) {
                    out.push(format!("{at}: {n} is more than {max}"));
                }
            }
            Value::Array(items) => {
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check(item, v, closed, &format!("{at}[{i}]"), out);
                    }
                }
            }
            Value::Object(map) => {
                for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    if !map.contains_key(name) {
                        out.push(format!("{at}: required property {name} missing"));
                    }
                }
                for (name, s) in schema["properties"].as_object().into_iter().flatten() {
                    if let Some(v) = map.get(name) {
                        self.check(s, v, closed, &format!("{at}.{name}"), out);
                    }
                }
                if closed && (schema.get("properties").is_some() || schema.get("allOf").is_some()) {
                    let known = self.property_names(schema);
                    for name in map.keys().filter(|k| !known.contains(k.as_str())) {
                        out.push(format!("{at}: property {name} is not in the schema"));
                    }
                }
            }
            _ => {}
        }
    }

    fn property_names(&self, schema: &Value) -> BTreeSet<String> {
        let schema = self.resolve(schema);
        let mut names: BTreeSet<String> =
            schema["properties"].as_object().into_iter().flatten().map(|(k, _)| k.clone()).collect();
        for part in schema["allOf"].as_array().into_iter().flatten() {
            names.extend(self.property_names(part));
        }
        names
    }

    /// The response an operation documents for `status`, resolved.
    fn response<'a>(&'a self, op: &'a Op, status: u16) -> Option<&'a Value> {
        op.spec["responses"].get(status.to_string()).map(|r| self.resolve(r))
    }

    fn body_schema<'a>(&'a self, op: &'a Op) -> Option<&'a Value> {
        op.spec.get("requestBody").map(|b| self.resolve(&self.resolve(b)["content"]["application/json"]["schema"]))
    }

    /// The document's example of a schema (`example`, or the first of `examples`).
    fn example(&self, schema: &Value) -> Option<Value> {
        let schema = self.resolve(schema);
        schema.get("example").cloned().or_else(|| schema["examples"].get(0).cloned())
    }
}

const DATE_TIME: &str = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$";

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        other => panic!("unknown type {other}"),
    }
}

// ---- values made from schemas --------------------------------------------------------------

/// Strings for a string schema: its examples and `seed` (the value in an example of the whole
/// body), also shouted and padded with spaces; strings of
/// several kinds of character at the documented lengths and one beyond, and characters that
/// servers tend to trip over (controls, invisible formatting, combining marks, characters that
/// Unicode normalisation expands) inside a word. Which of them are valid, the schema says.
fn strings_for(doc: &Doc, schema: &Value, seed: Option<&str>) -> Vec<String> {
    let schema = doc.resolve(schema);
    let mut out = Vec::new();
    let example = doc.example(schema);
    for ex in example.iter().filter_map(Value::as_str).chain(seed) {
        out.push(ex.to_string());
        out.push(format!("  {}  ", ex.to_uppercase()));
    }
    let min = schema["minLength"].as_u64().unwrap_or(0) as usize;
    let mut lengths = vec![min, min + 1, 40];
    if min > 0 {
        lengths.push(min - 1);
    }
    if let Some(max) = schema["maxLength"].as_u64() {
        lengths.extend([max as usize, max as usize + 1]);
    }
    for unit in ["x", "é", "字", "🚀", " "] {
        for n in &lengths {
            out.push(unit.repeat(*n));
        }
    }
    for odd in [
        '\u{0}',
        '\u{7}',
        '\t',
        '\n',
        '\u{7F}',
        '\u{85}',
        '\u{A0}',
        '\u{301}',
        '\u{344}',
        '\u{61C}',
        '\u{958}',
        '\u{180E}',
        '\u{200B}',
        '\u{200D}',
        '\u{202E}',
        '\u{2066}',
        '\u{3000}',
        '\u{FEFF}',
        '\u{1D15E}',
    ] {
        out.push(format!("ab{odd}cd"));
        out.push(format!("{odd}abcd{odd}"));
    }
    out.push("\t padded \n".to_string());
    out
}

/// Values for one property: strings if it may be one, and one value of every JSON type.
fn values_for(doc: &Doc, schema: &Value, seed: Option<&str>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let types = &doc.resolve(schema)["type"];
    if *types == "string" || types.as_array().is_some_and(|t| t.contains(&json!("string"))) {
        out.extend(strings_for(doc, schema, seed).into_iter().map(Value::String));
    }
    out.extend([json!(null), json!(true), json!(5), json!(1.5), json!([]), json!({}), json!(["x"])]);
    out
}

/// A valid value for a schema, from its example.
fn example_of(doc: &Doc, schema: &Value) -> Value {
    doc.example(schema).unwrap_or_else(|| panic!("no example in {schema}"))
}

// ---- requests ---------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Auth {
    /// A token of a session logged in just for this request.
    Fresh,
    /// A token whose session has ended.
    Ended,
    /// This `Authorization` header, or none.
    Header(Option<String>),
}

#[derive(Clone, Debug)]
enum Segment {
    /// The session id of the request's own token.
    Own,
    /// The id of another session of the same account.
    Other,
    /// This string, percent-encoded.
    Text(String),
    /// Exactly this, already encoded (percent-encoded bytes that are not UTF-8).
    Raw(String),
}

#[derive(Clone, Debug)]
struct Case {
    what: String,
    auth: Auth,
    segments: BTreeMap<String, Segment>,
    /// Query parameters, already percent-encoded.
    query: Vec<(String, String)>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
    /// The document calls this request valid: it must not be refused as invalid.
    valid: bool,
    /// The one status this request must get, where the document leaves no choice.
    expect: Option<u16>,
    /// Sent over a raw connection that stops writing half-way through the body.
    broken_body: bool,
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every request the test makes for one operation.
fn cases(doc: &Doc, op: &Op) -> Vec<Case> {
    let mut segments = BTreeMap::new();
    let mut segment_values: Vec<(String, Segment, bool)> = Vec::new();
    let mut query_values: Vec<(String, String, bool)> = Vec::new();
    for param in op.spec["parameters"].as_array().into_iter().flatten() {
        let name = param["name"].as_str().unwrap().to_string();
        let schema = &param["schema"];
        if param["in"] == "query" {
            assert_ne!(param["required"], true, "{}: required query parameters are not generated", op.name());
            for s in strings_for(doc, schema, None) {
                let valid = doc.errors(schema, &json!(s), false).is_empty();
                query_values.push((name.clone(), percent_encode(&s), valid));
            }
            query_values.push((name.clone(), "%FF%FE".into(), false));
            continue;
        }
        assert_eq!(param["in"], "path", "{}: only path and query parameters are generated", op.name());
        segments.insert(name.clone(), Segment::Other);
        for s in strings_for(doc, schema, None).into_iter().filter(|s| !s.is_empty()) {
            let valid = doc.errors(schema, &json!(s), false).is_empty();
            segment_values.push((name.clone(), Segment::Text(s), valid));
        }
        segment_values.push((
            name.clone(),
            Segment::Text("A".repeat(22)),
            doc.errors(schema, &json!("A".repeat(22)), false).is_empty(),
        ));
        segment_values.push((name.clone(), Segment::Own, true));
        segment_values.push((name.clone(), Segment::Raw("%FF%FE".into()), false));
    }
    let body_schema = doc.body_schema(op);
    let base_body: Option<Value> = body_schema.map(|s| example_of(doc, s));
    if let (Some(schema), Some(body)) = (body_schema, &base_body) {
        assert!(
            doc.errors(schema, body, false).is_empty(),
            "{}: the example body is invalid: {:?}",
            op.name(),
            doc.errors(schema, body, false)
        );
    }
    let base = Case {
        what: "the example".into(),
        auth: if op.secured() { Auth::Fresh } else { Auth::Header(None) },
        segments,
        query: Vec::new(),
        content_type: base_body.as_ref().map(|_| "application/json".into()),
        body: base_body.as_ref().map(|b| serde_json::to_vec(b).unwrap()),
        valid: true,
        expect: None,
        broken_body: false,
    };
    let mut out = vec![base.clone()];
    let with = |what: String, f: &dyn Fn(&mut Case)| {
        let mut c = base.clone();
        c.what = what;
        f(&mut c);
        c
    };

    if op.secured() {
        let random = format!("{}{}{}", random_hex(), random_hex(), random_hex())[..43].to_string();
        for (what, header) in [
            ("no Authorization header", None),
            ("an unknown bearer token", Some(format!("Bearer {random}"))),
            ("an empty bearer token", Some("Bearer ".to_string())),
            ("a bearer token that is not visible ASCII", Some("Bearer tök".to_string())),
            ("Basic authentication", Some("Basic YWRhOnB3".to_string())),
            ("a token without its scheme", Some(random.clone())),
        ] {
            out.push(with(what.into(), &|c| {
                c.auth = Auth::Header(header.clone());
                c.expect = Some(401);
            }));
        }
        out.push(with("a token whose session ended".into(), &|c| {
            c.auth = Auth::Ended;
            c.expect = Some(401);
        }));
    }

    for (name, segment, valid) in &segment_values {
        out.push(with(format!("{name} = {segment:?}"), &|c| {
            c.segments.insert(name.clone(), segment.clone());
            c.valid = *valid;
            if matches!(segment, Segment::Raw(_)) {
                c.expect = Some(400);
            }
        }));
    }

    for (name, value, valid) in &query_values {
        out.push(with(format!("?{name}={value}"), &|c| {
            c.query = vec![(name.clone(), value.clone())];
            c.valid = *valid;
        }));
    }

    let limit = doc.body_limit();
    match (body_schema, &base_body) {
        (Some(schema), Some(body)) => {
            let classified = |what: String, value: Value| {
                let valid = doc.errors(schema, &value, false).is_empty();
                with(what, &|c| {
                    c.body = Some(serde_json::to_vec(&value).unwrap());
                    c.valid = valid;
                })
            };
            let props = doc.resolve(schema)["properties"].as_object().expect("an object body").clone();
            for (name, prop) in &props {
                for v in values_for(doc, prop, body[name].as_str()) {
                    let mut b = body.clone();
                    b[name] = v.clone();
                    out.push(classified(format!("{name} = {v}"), b));
                }
                let mut b = body.clone();
                b.as_object_mut().unwrap().remove(name);
                out.push(classified(format!("without {name}"), b));
            }
            let mut extra = body.clone();
            extra["unknown_property"] = json!("ignored");
            out.push(classified("an unknown property".into(), extra));
            for other in [json!({}), json!([]), json!(null), json!("text"), json!(5)] {
                out.push(classified(format!("the body {other}"), other));
            }
            let text = serde_json::to_vec(body).unwrap();
            for (what, raw, expect) in
                [("malformed JSON", b"{\"email\": ".to_vec(), 400), ("an empty body", Vec::new(), 400)]
            {
                out.push(with(what.into(), &|c| {
                    c.body = Some(raw.clone());
                    c.valid = false;
                    c.expect = Some(expect);
                }));
            }
            for ct in [
                None,
                Some("text/plain"),
                Some("application/x-www-form-urlencoded"),
                Some("multipart/form-data; boundary=x"),
            ] {
                out.push(with(format!("Content-Type {ct:?}"), &|c| {
                    c.content_type = ct.map(str::to_string);
                    c.valid = false;
                    c.expect = Some(415);
                }));
            }
            out.push(with("Content-Type with a charset".into(), &|c| {
                c.content_type = Some("application/json; charset=utf-8".into())
            }));
            let padded = |n: usize| {
                let mut t = text.clone();
                t.resize(n, b' ');
                t
            };
            out.push(with(format!("a body of exactly {limit} bytes"), &|c| c.body = Some(padded(limit))));
            out.push(with(format!("a body of {} bytes", limit + 1), &|c| {
                c.body = Some(padded(limit + 1));
                c.valid = false;
                c.expect = Some(413);
            }));
        }
        _ => {
            // No body is documented; one that is sent is ignored, within the limit.
            out.push(with("a small JSON body".into(), &|c| {
                c.content_type = Some("application/json".into());
                c.body = Some(b"{}".to_vec());
            }));
            out.push(with(format!("a body of exactly {limit} bytes"), &|c| c.body = Some(vec![b' '; limit])));
            out.push(with(format!("a body of {} bytes", limit + 1), &|c| {
                c.body = Some(vec![b' '; limit + 1]);
                c.valid = false;
                c.expect = Some(413);
            }));
        }
    }
    out.push(with("a body that breaks off".into(), &|c| {
        c.broken_body = true;
        c.valid = false;
        c.expect = Some(400);
    }));
    out
}

/// Logs a session of the fixture account in; returns its token and session id.
async fn log_in(server: &TestServer, credentials: &Value) -> (String, String) {
    let res =
        Answer::read(server.raw().post(server.url("/api/v1/login")).json(credentials).send().await.unwrap()).await;
    assert_eq!(res.status.as_u16(), 200, "fixture login: {}", res.text);
    let body = res.json();
    (body["token"].as_str().unwrap().to_string(), body["session_id"].as_str().unwrap().to_string())
}

async fn send(server: &TestServer, doc: &Doc, op: &Op, case: &Case, credentials: &Value) -> Answer {
    let mut own_id = String::new();
    let authorization = match &case.auth {
        Auth::Fresh => {
            let (token, id) = log_in(server, credentials).await;
            own_id = id;
            Some(format!("Bearer {token}"))
        }
        Auth::Ended => {
            let (token, _) = log_in(server, credentials).await;
            let res = server.raw().post(server.url("/api/v1/logout")).bearer_auth(&token).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 204);
            Some(format!("Bearer {token}"))
        }
        Auth::Header(h) => h.clone(),
    };
    let mut path = op.path.clone();
    for (name, segment) in &case.segments {
        let value = match segment {
            Segment::Own if !own_id.is_empty() => own_id.clone(),
            Segment::Own | Segment::Other => log_in(server, credentials).await.1,
            Segment::Text(s) => percent_encode(s),
            Segment::Raw(s) => s.clone(),
        };
        assert!(
            !matches!(segment, Segment::Own | Segment::Other)
                || doc.errors(&param_schema(op, name), &json!(value), false).is_empty(),
            "{}: a real session id {value} does not match the documented {name}",
            op.name()
        );
        path = path.replace(&format!("{{{name}}}"), &value);
    }
    if !case.query.is_empty() {
        let pairs: Vec<String> = case.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        path = format!("{path}?{}", pairs.join("&"));
    }
    if case.broken_body {
        return broken_body(server, &op.method, &path, authorization.as_deref()).await;
    }
    let mut req = server.raw().request(op.method.clone(), server.url(&path));
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    if let Some(ct) = &case.content_type {
        req = req.header("content-type", ct);
    }
    if let Some(body) = &case.body {
        req = req.body(body.clone());
    }
    let res = req.send().await.expect("an answer");
    if res.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream")) {
        return first_event(res).await;
    }
    Answer::read(res).await
}

/// An event stream's answer up to its first event (the stream itself stays open for as long as
/// the session; a stream that ends first is read to its end).
async fn first_event(mut res: reqwest::Response) -> Answer {
    let (status, headers) = (res.status(), res.headers().clone());
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk =
            tokio::time::timeout(std::time::Duration::from_secs(15), res.chunk()).await.expect("an event in time");
        match chunk {
            Ok(Some(bytes)) => text.push_str(&String::from_utf8_lossy(&bytes)),
            _ => break,
        }
    }
    Answer { status, headers, text }
}

/// What is wrong with the first event of a stream the document describes as `text/event-stream`.
fn event_problems(text: &str) -> Vec<String> {
    let block = text.split("\n\n").next().unwrap_or("");
    let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()));
    let mut out = Vec::new();
    match field("event:").as_deref() {
        Some("sessions" | "ended" | "message" | "none") => {}
        other => out.push(format!("the first event is {other:?}, not one the document names: {text:?}")),
    }
    if field("data:").is_none_or(|d| serde_json::from_str::<Value>(&d).is_err()) {
        out.push(format!("the first event's data is not JSON: {text:?}"));
    }
    out
}

fn param_schema(op: &Op, name: &str) -> Value {
    op.spec["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap()["schema"].clone()
}

/// A request whose body stops half-way: `Content-Length` says 100, 10 bytes come, and the
/// client stops writing (it still reads the answer).
async fn broken_body(server: &TestServer, method: &Method, path: &str, authorization: Option<&str>) -> Answer {
    let addr = server.base.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = authorization.map(|a| format!("authorization: {a}\r\n")).unwrap_or_default();
    let head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}content-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{{\"email\":1");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("an answer in time")
        .unwrap();
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no answer: {raw:?}"));
    let mut lines = head.lines();
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    for line in lines {
        let (k, v) = line.split_once(':').unwrap();
        headers
            .append(reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()).unwrap(), v.trim().parse().unwrap());
    }
    Answer { status: reqwest::StatusCode::from_u16(status).unwrap(), headers, text: body.to_string() }
}

// ---- checking an answer against the document ---------------------------------------------------

/// What is wrong with `answer` as the answer of `op` to `case`; empty when nothing is.
fn problems(doc: &Doc, op: &Op, case: &Case, answer: &Answer) -> Vec<String> {
    let status = answer.status.as_u16();
    let mut out = Vec::new();
    if case.valid && matches!(status, 400 | 413 | 415 | 422) {
        out.push(format!("a request the document calls valid was refused with {status}"));
    }
    if status == 500 {
        // Listed, since a fault can happen anywhere; but no request the test makes may cause one.
        out.push("a fault on the server's side (500)".to_string());
    }
    if let Some(expect) = case.expect.filter(|e| *e != status) {
        out.push(format!("expected {expect}, got {status}"));
    }
    let Some(response) = doc.response(op, status) else {
        out.push(format!("status {status} is not in the document (it lists {:?})", op.statuses()));
        return out;
    };
    for (name, header) in response["headers"].as_object().into_iter().flatten() {
        match answer.header(name) {
            None => out.push(format!("header {name} missing")),
            Some(v) => {
                let schema = doc.resolve(&header["schema"]);
                let value = if schema["type"] == "integer" {
                    v.parse::<i64>().map(Value::from).unwrap_or(json!(v))
                } else {
                    json!(v)
                };
                for e in doc.errors(schema, &value, true) {
                    out.push(format!("header {name}: {e}"));
                }
            }
        }
    }
    match response["content"].as_object() {
        Some(content) => {
            let content_type = answer.header("content-type").unwrap_or("");
            let Some(media) = content.iter().find(|(t, _)| content_type.starts_with(t.as_str())).map(|(_, m)| m) else {
                out.push(format!(
                    "content type {content_type:?}, the document has {:?}",
                    content.keys().collect::<Vec<_>>()
                ));
                return out;
            };
            if content_type.starts_with("text/event-stream") {
                out.extend(event_problems(&answer.text));
                return out;
            }
            match serde_json::from_str::<Value>(&answer.text) {
                Ok(body) => out.extend(doc.errors(&media["schema"], &body, true)),
                Err(e) => out.push(format!("the body is not JSON ({e}): {:?}", answer.text)),
            }
        }
        None if !answer.text.is_empty() => out.push(format!("a body where the document has none: {:?}", answer.text)),
        None => {}
    }
    out
}

async fn fixture(server: &TestServer, doc: &Doc) -> Value {
    let login = doc.operations().into_iter().find(|op| op.path == "/api/v1/login").expect("the login operation");
    let credentials = example_of(doc, doc.body_schema(&login).unwrap());
    let mut browser = server.browser();
    let res = browser
        .sign_up("Ada Lovelace", credentials["email"].as_str().unwrap(), credentials["password"].as_str().unwrap())
        .await;
    assert_eq!(res.status.as_u16(), 200, "the example's account: {}", res.text);
    credentials
}

async fn fetch_document(server: &TestServer) -> Doc {
    let res = Answer::read(server.raw().get(server.url("/api/v1/openapi.json")).send().await.unwrap()).await;
    assert_eq!(res.status.as_u16(), 200);
    if let Some(path) = std::env::var_os("CONTRACT_DUMP") {
        std::fs::write(path, &res.text).unwrap();
    }
    Doc::new(res.json())
}

/// Thresholds no test run reaches, so that failed logins made on purpose never throttle the rest,
/// and the run's hundreds of successful logins never end the session another request uses (the
/// session limit ends the least recently active; under the test's still clock that is a tie,
/// broken differently from run to run).
const NO_LIMITS: &[&str] = &[
    "--throttle-account-free",
    "1000000",
    "--throttle-ip-free",
    "1000000",
    "--throttle-account-lockout",
    "1000000",
    "--max-sessions",
    "1000000",
];

backend_tests! {
    async fn every_answer_to_requests_made_from_the_document_is_one_the_document_describes(db) {
        let server = TestServer::start_with(&db, app::ssr::ManualClock::new(T0), NO_LIMITS).await;
        let doc = fetch_document(&server).await;
        let credentials = fixture(&server, &doc).await;
        let mut failures = Vec::new();
        let ops = doc.operations();
        assert_eq!(ops.len(), 9, "every operation of the API is in the document");
        for op in &ops {
            let mut seen = BTreeSet::new();
            let cases = cases(&doc, op);
            assert!(cases.iter().any(|c| c.valid) && cases.iter().any(|c| !c.valid), "{}", op.name());
            for case in &cases {
                let answer = send(&server, &doc, op, case, &credentials).await;
                seen.insert(answer.status.as_u16());
                if std::env::var_os("CONTRACT_VERBOSE").is_some() {
                    eprintln!("{} with {}: {} {}", op.name(), case.what, answer.status, answer.text.chars().take(160).collect::<String>());
                }
                for p in problems(&doc, op, case, &answer) {
                    failures.push(format!("{} with {}: {p}\n    answer: {} {}", op.name(), case.what, answer.status, answer.text));
                }
            }
            // The document lists nothing that cannot happen (408 needs a body slower than the
            // read timeout, 500 a fault; 429 and 503 are provoked below).
            let unseen: Vec<u16> = op.statuses().into_iter().filter(|s| !seen.contains(s) && ![408, 429, 500, 503].contains(s)).collect();
            eprintln!("{}: {} requests, answered {seen:?}", op.name(), cases.len());
            if !unseen.is_empty() {
                failures.push(format!("{}: documented statuses {unseen:?} never answered ({} requests got {seen:?})", op.name(), cases.len()));
            }
        }
        assert!(failures.is_empty(), "{} answers differ from the document:\n{}", failures.len(), failures.join("\n"));
    }

    async fn throttled_logins_get_the_documented_429(db) {
        let server = TestServer::start_with(&db, app::ssr::ManualClock::new(T0), &["--throttle-account-free", "2"]).await;
        let doc = fetch_document(&server).await;
        let mut credentials = fixture(&server, &doc).await;
        let login = doc.operations().into_iter().find(|op| op.path == "/api/v1/login").unwrap();
        credentials["password"] = json!("not the password");
        let case = Case {
            what: "a wrong password, again and again".into(),
            auth: Auth::Header(None),
            segments: BTreeMap::new(),
            query: Vec::new(),
            content_type: Some("application/json".into()),
            body: Some(serde_json::to_vec(&credentials).unwrap()),
            valid: true,
            expect: None,
            broken_body: false,
        };
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let answer = send(&server, &doc, &login, &case, &credentials).await;
            let p = problems(&doc, &login, &case, &answer);
            assert!(p.is_empty(), "{p:?}: {} {}", answer.status, answer.text);
            statuses.push(answer.status.as_u16());
        }
        assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    }

    async fn an_unreachable_database_gets_the_documented_503(db) {
        let server = TestServer::start_with(&db, app::ssr::ManualClock::new(T0), NO_LIMITS).await;
        let doc = fetch_document(&server).await;
        let credentials = fixture(&server, &doc).await;
        let (token, id) = log_in(&server, &credentials).await;
        server.state.ctx.auth.store.close().await;
        let mut statuses = BTreeMap::new();
        for op in doc.operations() {
            let mut case = cases(&doc, &op).remove(0);
            case.auth = Auth::Header(Some(format!("Bearer {token}")));
            case.segments.values_mut().for_each(|s| *s = Segment::Text(id.clone()));
            let answer = send(&server, &doc, &op, &case, &credentials).await;
            let p = problems(&doc, &op, &case, &answer);
            assert!(p.is_empty(), "{}: {p:?}: {} {}", op.name(), answer.status, answer.text);
            statuses.insert(op.name(), answer.status.as_u16());
        }
        // On SQLite the reads every request makes (the session lookup, the session list) go
        // through rusqlite connections that closing the pool leaves open: those may still answer.
        let writes = ["POST /api/v1/login", "POST /api/v1/logout", "DELETE /api/v1/sessions"];
        let must: Vec<u16> = statuses.iter().filter(|(op, _)| db.backend != "sqlite" || writes.contains(&op.as_str())).map(|(_, s)| *s).collect();
        assert!(must.len() >= writes.len() && must.iter().all(|s| *s == 503), "{statuses:?}");
    }
}

// ---- the device name's pattern against the server's rule -----------------------------------

/// The document's device-name pattern, tried on every Unicode character: a name it admits is one
/// `validate_device_name` accepts, at the documented maximum length too (no character it admits
/// grows under NFC normalisation), and it refuses only characters the server refuses or would
/// expand.
#[test]
fn the_device_name_pattern_admits_exactly_the_characters_the_server_accepts() {
    use app::ssr::service::validate_device_name;
    use unicode_normalization::UnicodeNormalization;
    use utoipa::OpenApi;
    let doc = Doc::new(serde_json::to_value(server::openapi::ApiDoc::openapi()).unwrap());
    let login = doc.operations().into_iter().find(|op| op.path == "/api/v1/login").unwrap();
    let schema = doc.resolve(&doc.body_schema(&login).unwrap()["properties"]["device_name"]).clone();
    let max = schema["maxLength"].as_u64().unwrap() as usize;
    let pattern = doc.regex(schema["pattern"].as_str().unwrap());
    let mut admitted = 0;
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        let name = format!("x{c}x");
        let server_accepts = validate_device_name(&name).is_ok();
        let expands = c.to_string().nfc().count() > 1;
        assert_eq!(pattern.is_match(&name), server_accepts && !expands, "U+{:04X}: pattern vs server", c as u32);
        if pattern.is_match(&name) {
            admitted += 1;
        }
    }
    assert!(admitted > 1_000_000, "{admitted}");
    for c in ['x', 'é', '字', '🚀', '\u{301}', '\u{1100}', '\u{AC00}', '\u{212B}'] {
        let longest = format!("x{}", c.to_string().repeat(max - 1));
        assert!(doc.errors(&schema, &json!(longest), false).is_empty(), "{longest:?}");
        assert!(validate_device_name(&longest).is_ok(), "{longest:?}");
    }
    for blank in ["", " ", "\u{3000}\u{A0}"] {
        assert!(!pattern.is_match(blank) || !doc.errors(&schema, &json!(blank), false).is_empty(), "{blank:?}");
    }
}
