//! The push of session changes as server-sent events: `GET /api/session/events` for the pages
//! (the session cookie) and `GET /api/v1/events` for the mail app (its bearer token). A stream
//! registers with the store's hub and sleeps; when the hub wakes it (a change of its account's
//! sessions, in this process or, through the change feed, any other) or its session's deadline
//! passes, it reads its session from the database and says what changed. Nothing is counted as
//! activity, and nothing but the database decides.

use crate::error::ApiError;
use crate::middleware::same_origin;
use crate::serve::Takeover;
use crate::AppState;
use app::model::{AppError, EndReason, SessionId, StreamEnded, StreamMessage, StreamSessions};
use app::ssr::push::{Subscription, Wake};
use app::ssr::service::{StreamCheck, StreamSnapshot};
use app::ssr::Resolved;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use std::time::Duration;

/// A comment this often keeps proxies and NATs from closing an idle stream.
pub const HEARTBEAT: Duration = Duration::from_secs(25);
/// The `retry:` hint: how long a browser waits before it reconnects a stream that closed.
pub const RETRY: Duration = Duration::from_secs(3);
/// The hint of the streams a shutting-down server closes: reconnect (to another instance) soon.
pub const SHUTDOWN_RETRY: Duration = Duration::from_millis(500);

/// The mail app's stream.
pub const APP_EVENTS_PATH: &str = "/api/v1/events";

/// Whether a request to `path` may leave its answer's body to its connection ([`Takeover`]): the
/// streams', which are open for hours and mostly idle.
pub fn detaches(path: &str) -> bool {
    path == app::model::EVENTS_PATH || path == APP_EVENTS_PATH
}

/// The pages' stream. Like the poll it never answers an error status for a missing or ended
/// session (that would be a console error): 200, `none` or `ended`, and the stream closes.
pub async fn page_events(
    State(state): State<AppState>,
    takeover: Option<Extension<Takeover>>,
    headers: HeaderMap,
) -> Response {
    // A cookie-authenticated GET that other sites must not open (it tells whether the visitor
    // is signed in, and ties up a connection): same origin only.
    if !same_origin(&headers, &state.public_origin) {
        tracing::warn!("cross-site event stream refused");
        return ApiError(AppError::Forbidden).into_response();
    }
    let cookies = state.ctx.cookie.session_cookies_in(&headers);
    let resolved = match cookies.token {
        Some(token) => state.ctx.auth.authenticate_browser(&token, cookies.bound.as_deref(), false).await,
        None => Ok(Resolved::None),
    };
    match resolved {
        Ok(resolved) => answer(&state, resolved, takeover).await,
        Err(err) => ApiError(err).into_response(),
    }
}

/// The mail app's stream, with its bearer token: the same events. A token without an active
/// session is 401 like everywhere in the API (`session_ended` with the reason, or
/// `unauthorized`); a session that ends while its stream is open gets `ended`, and it closes.
#[utoipa::path(get, path = "/api/v1/events",
    responses((status = 200, content_type = "text/event-stream", body = String,
                 description = "A stream of server-sent events, open until the session ends: `sessions` \
                   (data `{\"sessions_version\": 7}`; first, and whenever a session of the account starts or \
                   ends), `message` (`{\"unread_messages\": 2}`, a new Inbox message), `ended` (`{\"reason\": \
                   \"ended_by_user\"}`; the stream closes after it), and a comment every 25 s. \
                   `curl -N -H \"Authorization: Bearer $TOKEN\" https://mail.example/api/v1/events`"),
              (status = 400, response = crate::openapi::BadRequest),
              (status = 401, response = crate::openapi::BearerRefused),
              (status = 408, response = crate::openapi::RequestTimeout),
              (status = 413, response = crate::openapi::PayloadTooLarge),
              (status = 500, response = crate::openapi::Internal),
              (status = 503, response = crate::openapi::Unavailable)),
    security(("bearer" = [])))]
pub async fn app_events(
    State(state): State<AppState>,
    takeover: Option<Extension<Takeover>>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = crate::api::bearer_token(&headers) else {
        return ApiError(AppError::Unauthorized).into_response();
    };
    match state.ctx.auth.authenticate(token, false).await {
        Ok(resolved) => match resolved.require() {
            // What every API operation answers for a token without an active session.
            Err(err) => ApiError(err).into_response(),
            Ok(_) => answer(&state, resolved, takeover).await,
        },
        Err(err) => ApiError(err).into_response(),
    }
}

async fn answer(state: &AppState, resolved: Resolved, takeover: Option<Extension<Takeover>>) -> Response {
    let auth = &state.ctx.auth;
    let Resolved::Active(session) = resolved else {
        return last_word(match resolved {
            Resolved::Ended(reason) => ended(reason),
            _ => none(),
        });
    };
    // Subscribed before the first read: a change between the two wakes the stream.
    let subscription = auth.store.hub().subscribe(session.account_id, &session.session_id);
    // The first read decides the answer: a database that cannot say is a 503 like any request's,
    // not a stream that closes at once.
    let first = match auth.stream_check(&session.session_id).await {
        Ok(StreamCheck::Active(first)) => first,
        Ok(StreamCheck::Ended(reason)) => return last_word(ended(reason)),
        Ok(StreamCheck::Gone) => return last_word(none()),
        Err(err) => return ApiError(err).into_response(),
    };
    let watcher = Watcher {
        state: state.clone(),
        session: session.session_id,
        subscription,
        told: None,
        first: Some(first),
        done: false,
    };
    let res = respond(Sse::new(watch(watcher)).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat")));
    // Served by `serve_listener`, the open stream leaves hyper after its head (serve.rs: an idle
    // stream then keeps none of hyper's buffers); served otherwise, hyper writes it all.
    match takeover {
        Some(Extension(takeover)) => takeover.detach(res),
        None => res,
    }
}

/// A stream of one event, closed after it.
fn last_word(event: Event) -> Response {
    respond(Sse::new(stream::iter([Ok::<_, Infallible>(event)])))
}

fn none() -> Event {
    Event::default().event("none").data("{}")
}

/// Headers for proxies: never cache, never buffer (nginx), never compress (nothing here does).
fn respond(sse: impl IntoResponse) -> Response {
    let mut res = sse.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

fn ended(reason: EndReason) -> Event {
    json_event("ended", &StreamEnded { reason })
}

fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default().event(name).json_data(data).unwrap_or_else(|_| Event::default().event(name).data("{}"))
}

/// One open stream: what it has told its client so far.
struct Watcher {
    /// The service is reached through the state: one pointer per stream, not a copy of the
    /// service's fields in each of thousands.
    state: AppState,
    session: SessionId,
    subscription: Subscription,
    told: Option<StreamSnapshot>,
    /// What the opening read found, said first.
    first: Option<StreamSnapshot>,
    done: bool,
}

/// The events of one session's stream, until it ends.
fn watch(watcher: Watcher) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(watcher, |mut w| async move {
        if w.done {
            return None;
        }
        let events = w.next_events().await;
        Some((stream::iter(events.into_iter().map(Ok)), w))
    })
    .flatten()
}

impl Watcher {
    /// Waits until there is something to say, and says it.
    async fn next_events(&mut self) -> Vec<Event> {
        if let Some(first) = self.first.take() {
            let events = self.changes(first);
            self.told = Some(first);
            return events;
        }
        loop {
            if let Some(told) = self.told {
                let wake = tokio::select! {
                    wake = self.subscription.next() => wake,
                    () = self.state.ctx.auth.sleep_until(told.runs_out_at) => Wake::Changed,
                };
                match wake {
                    Wake::Changed => {}
                    Wake::Displaced => {
                        self.done = true;
                        return vec![Event::default().comment("closed: this session opened a newer stream")];
                    }
                    Wake::ShuttingDown => {
                        self.done = true;
                        return vec![Event::default().retry(SHUTDOWN_RETRY).comment("closed: the server restarts")];
                    }
                }
            }
            // Boxed: an idle stream then holds only the small waiting state, not room for the
            // read (and the expiry transaction it may run) in every one of 10,000 futures.
            match Box::pin(self.state.ctx.auth.stream_check(&self.session)).await {
                Ok(StreamCheck::Active(now)) => {
                    let events = self.changes(now);
                    self.told = Some(now);
                    if !events.is_empty() {
                        return events;
                    }
                }
                Ok(StreamCheck::Ended(reason)) => {
                    self.done = true;
                    return vec![ended(reason)];
                }
                Ok(StreamCheck::Gone) => {
                    // It was active when this stream last read it: it ended, for a reason no
                    // longer kept (deleted at once by an operator, say).
                    self.done = true;
                    return vec![ended(EndReason::Other)];
                }
                Err(_) => {
                    // The database cannot say: close, and let the client poll and reconnect.
                    self.done = true;
                    return vec![Event::default().comment("closed: the session could not be read")];
                }
            }
        }
    }

    fn changes(&self, now: StreamSnapshot) -> Vec<Event> {
        let mut events = Vec::new();
        match self.told {
            None => events
                .push(json_event("sessions", &StreamSessions { sessions_version: now.sessions_version }).retry(RETRY)),
            Some(told) => {
                if told.sessions_version != now.sessions_version {
                    events.push(json_event("sessions", &StreamSessions { sessions_version: now.sessions_version }));
                }
                if now.last_message_id > told.last_message_id {
                    events.push(json_event("message", &StreamMessage { unread_messages: now.unread_messages }));
                }
            }
        }
        events
    }
}
