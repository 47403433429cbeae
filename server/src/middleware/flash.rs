//! The error of a plain form post (no JavaScript yet) travels in the URL the browser is sent back
//! to (`?__path=…&__err=…`, server_fn's form redirect), and the page renders whatever error that
//! URL carries. So that nobody can send a victim a link that shows the text of their choosing
//! ("Your account has been suspended, call …"), the redirect also sets a short-lived cookie with
//! a hash of the error, and a page renders a URL's error only with that cookie; otherwise the
//! error is dropped from the request before the page renders.

use axum::extract::{Request, State};
use axum::http::uri::PathAndQuery;
use axum::http::{header, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

const PATH_KEY: &str = "__path";
const ERR_KEY: &str = "__err";

/// Long enough for the redirect to be followed, short enough that a leaked value is soon useless.
const MAX_AGE_SECS: u32 = 60;

/// The cookie's name and attributes, `__Host-` prefixed and `Secure` under https like the
/// session cookie.
#[derive(Clone, Copy, Debug)]
pub struct FlashCookie {
    pub secure: bool,
}

impl FlashCookie {
    fn name(self) -> &'static str {
        if self.secure {
            "__Host-postern_flash"
        } else {
            "postern_flash"
        }
    }

    fn header(self, value: &str, max_age: u32) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!("{}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}", self.name());
        HeaderValue::from_str(&cookie).expect("a cookie of hex digits and fixed attributes is a valid header")
    }

    fn value_in(self, req: &Request) -> Option<String> {
        let prefix = format!("{}=", self.name());
        req.headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|h| h.split(';'))
            .find_map(|c| c.trim().strip_prefix(&prefix).map(str::to_owned))
    }
}

pub async fn flash_errors(State(cookie): State<FlashCookie>, mut req: Request, next: Next) -> Response {
    let is_server_fn_post = req.method() == Method::POST && req.uri().path().starts_with("/api/fn/");
    let mut used = false;
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        if let Some(query) = req.uri().query().filter(|q| mentions_error(q)).map(str::to_owned) {
            let vouched = posted_error(&query)
                .is_some_and(|(path, err)| cookie.value_in(&req).is_some_and(|v| v == digest(&path, &err)));
            if vouched {
                used = true;
            } else {
                tracing::info!(path = req.uri().path(), "dropped a form error the browser was not sent back with");
                let stripped = without_error(&query);
                *req.uri_mut() = with_query(req.uri(), &stripped);
            }
        }
    }
    let mut res = next.run(req).await;
    if used {
        // Shown once: a reload shows the form without it.
        res.headers_mut().append(header::SET_COOKIE, cookie.header("", 0));
    }
    if is_server_fn_post && res.status().is_redirection() {
        vouch_for_redirect(cookie, &mut res);
    }
    res
}

/// Sets the cookie for the error in a form redirect's `Location`. The `Location` is the page the
/// form was on (its `Referer`) plus the error; that page's URL may already carry an error (a
/// forged link the form was opened from), so only the pair server_fn appended last is kept.
fn vouch_for_redirect(cookie: FlashCookie, res: &mut Response) {
    let Some(location) = res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()) else { return };
    let Some((base, query)) = location.split_once('?') else { return };
    if !mentions_error(query) {
        return;
    }
    let Some((path, err)) = last_pair(query) else {
        // No complete pair: keep none of it.
        let stripped = without_error(query);
        let location = if stripped.is_empty() { base.to_string() } else { format!("{base}?{stripped}") };
        if let Ok(v) = HeaderValue::from_str(&location) {
            res.headers_mut().insert(header::LOCATION, v);
        }
        return;
    };
    let mut rebuilt = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != PATH_KEY && k != ERR_KEY) {
        rebuilt.append_pair(&k, &v);
    }
    rebuilt.append_pair(PATH_KEY, &path).append_pair(ERR_KEY, &err);
    let Ok(location) = HeaderValue::from_str(&format!("{base}?{}", rebuilt.finish())) else { return };
    let h = res.headers_mut();
    h.insert(header::LOCATION, location);
    h.append(header::SET_COOKIE, cookie.header(&digest(&path, &err), MAX_AGE_SECS));
}

fn mentions_error(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == PATH_KEY || k == ERR_KEY)
}

/// The one `__path`/`__err` pair of a query; `None` unless there is exactly one of each.
fn posted_error(query: &str) -> Option<(String, String)> {
    let (mut paths, mut errs) = (Vec::new(), Vec::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            PATH_KEY => paths.push(v.into_owned()),
            ERR_KEY => errs.push(v.into_owned()),
            _ => {}
        }
    }
    match (paths.len(), errs.len()) {
        (1, 1) => Some((paths.remove(0), errs.remove(0))),
        _ => None,
    }
}

/// The last `__path` and the last `__err` of a query (what server_fn appended).
fn last_pair(query: &str) -> Option<(String, String)> {
    let pairs: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
    let last = |key: &str| pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.to_string());
    Some((last(PATH_KEY)?, last(ERR_KEY)?))
}

fn without_error(query: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != PATH_KEY && k != ERR_KEY) {
        out.append_pair(&k, &v);
    }
    out.finish()
}

fn with_query(uri: &Uri, query: &str) -> Uri {
    let path = uri.path();
    let pq = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
    let mut parts = uri.clone().into_parts();
    // Re-encoded pairs of a query that parsed before always parse again.
    parts.path_and_query = PathAndQuery::try_from(pq).ok().or(parts.path_and_query);
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

/// SHA-256 of the pair, hex: the cookie shows nothing of the error and is only good for this one.
fn digest(path: &str, err: &str) -> String {
    let mut h = Sha256::new();
    h.update(path.as_bytes());
    h.update([0]);
    h.update(err.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_complete_pair_is_an_error() {
        assert_eq!(posted_error("__path=%2Fapi%2Ffn%2Flogin&__err=abc"), Some(("/api/fn/login".into(), "abc".into())));
        assert_eq!(posted_error("__err=abc"), None);
        assert_eq!(posted_error("__path=a&__err=x&__path=a&__err=y"), None);
        assert_eq!(last_pair("__path=a&__err=x&q=1&__path=b&__err=y"), Some(("b".into(), "y".into())));
    }

    #[test]
    fn stripping_keeps_everything_else() {
        assert_eq!(without_error("a=1&__err=x&b=2&__path=p"), "a=1&b=2");
        let uri: Uri = "/login?__err=x&__path=p".parse().unwrap();
        assert_eq!(with_query(&uri, &without_error(uri.query().unwrap())).to_string(), "/login");
    }

    #[test]
    fn the_cookie_binds_path_and_error() {
        assert_ne!(digest("/api/fn/login", "x"), digest("/api/fn/signup", "x"));
        assert_ne!(digest("ab", "c"), digest("a", "bc"));
        let set = FlashCookie { secure: true }.header(&digest("a", "b"), MAX_AGE_SECS);
        let set = set.to_str().unwrap();
        assert!(
            set.starts_with("__Host-postern_flash=")
                && set.ends_with("; Max-Age=60; Path=/; HttpOnly; SameSite=Strict; Secure"),
            "{set}"
        );
    }
}
