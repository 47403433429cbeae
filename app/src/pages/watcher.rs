//! The browser side of "the thrown-out device knows at once" (compiled only with `hydrate`).
//!
//! - **One stream per browser.** The tabs of a browser elect one holder with a Web Lock
//!   (`navigator.locks`); it opens the event stream (`EventSource` on [`EVENTS_PATH`]) and relays
//!   what it hears to the other tabs over a `BroadcastChannel`. When the holder tab closes, the
//!   lock passes to another tab at once, which opens the stream. Six connections per host would
//!   not carry a stream for each of ten tabs.
//! - **Polling stays** (`GET` [`STATUS_PATH`]): every `long_ms` as a safety net while the stream
//!   is healthy, every `short_ms` while it is not (and without Web Locks, which only secure
//!   contexts have), and whenever the tab becomes visible. The stream is retried with backoff.
//! - A failed request (network down, server restarting) is never a logout: it says nothing.

use super::shell::{PolledVersion, PushedUnread};
use crate::model::{EndReason, SessionStatus, StreamEnded, StreamMessage, StreamSessions, EVENTS_PATH, STATUS_PATH};
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

const CHANNEL: &str = "postern-session";
const LOCK: &str = "postern-events";
/// The stream is retried after 1 s, 2 s, 4 s … at most a minute.
const RETRY_FIRST_MS: u32 = 1_000;
const RETRY_MAX_MS: u32 = 60_000;

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks.request(name, callback)`: `callback` runs once this tab holds the lock,
    /// which it keeps until the promise it returns settles. Throws where there is no
    /// `navigator.locks` (not a secure context), hence `catch`.
    #[wasm_bindgen(js_namespace = ["navigator", "locks"], js_name = request, catch)]
    fn request_lock(name: &str, callback: &js_sys::Function) -> Result<js_sys::Promise, JsValue>;
}

/// What the tabs of a browser tell each other.
enum TabMessage {
    Ended(EndReason),
    Sessions(i64),
    Unread(i64),
    /// The holder's stream is open (`true`) or failed (`false`).
    Stream(bool),
    /// A new tab asks the holder how its stream is.
    Hello,
}

impl TabMessage {
    fn encode(&self) -> String {
        match self {
            TabMessage::Ended(reason) => format!("ended:{}", reason.as_str()),
            TabMessage::Sessions(v) => format!("sessions:{v}"),
            TabMessage::Unread(n) => format!("unread:{n}"),
            TabMessage::Stream(up) => format!("stream:{}", if *up { "up" } else { "down" }),
            TabMessage::Hello => "hello".into(),
        }
    }

    fn decode(s: &str) -> Option<Self> {
        let (kind, value) = s.split_once(':').unwrap_or((s, ""));
        Some(match kind {
            "ended" => TabMessage::Ended(EndReason::parse(value)),
            "sessions" => TabMessage::Sessions(value.parse().ok()?),
            "unread" => TabMessage::Unread(value.parse().ok()?),
            "stream" => TabMessage::Stream(value == "up"),
            "hello" => TabMessage::Hello,
            _ => return None,
        })
    }
}

struct Watch {
    short_ms: u64,
    long_ms: u64,
    ended: RwSignal<Option<EndReason>>,
    polled: RwSignal<Option<i64>>,
    unread: RwSignal<Option<i64>>,
    channel: Option<web_sys::BroadcastChannel>,
    /// This tab holds the lock (and the stream).
    holder: Cell<bool>,
    /// A stream (this tab's, or the holder's as it last said) is open and has spoken.
    healthy: Cell<bool>,
    source: RefCell<Option<web_sys::EventSource>>,
    retry_ms: Cell<u32>,
    timer: Cell<Option<TimeoutHandle>>,
}

thread_local! {
    /// One watcher per page; a remount of the guard replaces it.
    static WATCH: RefCell<Option<Rc<Watch>>> = const { RefCell::new(None) };
}

pub fn start(
    short_ms: u64,
    long_ms: u64,
    ended: RwSignal<Option<EndReason>>,
    polled: PolledVersion,
    unread: PushedUnread,
) {
    let w = Rc::new(Watch {
        short_ms: short_ms.max(250),
        long_ms: long_ms.max(short_ms).max(250),
        ended,
        polled: polled.0,
        unread: unread.0,
        channel: web_sys::BroadcastChannel::new(CHANNEL).ok(),
        holder: Cell::new(false),
        healthy: Cell::new(false),
        source: RefCell::new(None),
        retry_ms: Cell::new(RETRY_FIRST_MS),
        timer: Cell::new(None),
    });
    if let Some(old) = WATCH.with(|slot| slot.replace(Some(w.clone()))) {
        old.stop();
    }
    listen_to_other_tabs(&w);
    w.poll_now();
    let visible = w.clone();
    let visibility = window_event_listener(leptos::ev::visibilitychange, move |_| {
        if document().visibility_state() == web_sys::VisibilityState::Visible {
            visible.poll_now();
        }
    });
    elect(&w);
    w.tell(TabMessage::Hello);
    on_cleanup(move || visibility.remove());
}

/// Queues for the lock; the callback runs when this tab becomes the holder.
fn elect(w: &Rc<Watch>) {
    let holder = w.clone();
    let on_lock = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |_lock: JsValue| {
        holder.holder.set(true);
        holder.open_stream();
        // Never settles: the lock is held until the tab closes or navigates away.
        js_sys::Promise::new(&mut |_, _| {})
    });
    if request_lock(LOCK, on_lock.as_ref().unchecked_ref()).is_err() {
        // No Web Locks: this browser polls, as before push.
        return;
    }
    // Lives as long as the page.
    on_lock.forget();
}

fn listen_to_other_tabs(w: &Rc<Watch>) {
    let Some(channel) = &w.channel else { return };
    let me = w.clone();
    let handler = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
        let Some(message) = ev.data().as_string().and_then(|s| TabMessage::decode(&s)) else { return };
        match message {
            TabMessage::Ended(reason) => me.show_ended(reason, false),
            TabMessage::Sessions(v) => me.saw_version(v),
            TabMessage::Unread(n) => {
                me.unread.try_set(Some(n));
            }
            TabMessage::Stream(up) if !me.holder.get() => me.set_healthy(up),
            TabMessage::Stream(_) => {}
            TabMessage::Hello if me.holder.get() && me.healthy.get() => me.tell(TabMessage::Stream(true)),
            TabMessage::Hello => {}
        }
    });
    channel.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
}

impl Watch {
    fn tell(&self, message: TabMessage) {
        if let Some(channel) = &self.channel {
            let _ = channel.post_message(&JsValue::from_str(&message.encode()));
        }
    }

    fn is_over(&self) -> bool {
        self.ended.try_get_untracked().flatten().is_some()
    }

    /// Polls now, then again after the interval the stream's health calls for.
    fn poll_now(self: &Rc<Self>) {
        if self.is_over() {
            return;
        }
        let me = self.clone();
        leptos::task::spawn_local(async move {
            if let Some(status) = fetch_status().await {
                me.on_status(status);
            }
        });
        self.schedule_poll();
    }

    fn schedule_poll(self: &Rc<Self>) {
        if let Some(old) = self.timer.take() {
            old.clear();
        }
        let wait = if self.healthy.get() { self.long_ms } else { self.short_ms };
        let me = self.clone();
        self.timer.set(set_timeout_with_handle(move || me.poll_now(), Duration::from_millis(wait)).ok());
    }

    fn on_status(&self, status: SessionStatus) {
        match status {
            SessionStatus::Active { sessions_version } => self.saw_version(sessions_version),
            SessionStatus::Ended { reason } => self.show_ended(reason, true),
            SessionStatus::None => self.show_ended(EndReason::LoggedOut, true),
        }
    }

    fn saw_version(&self, version: i64) {
        if self.polled.try_get_untracked().flatten() != Some(version) {
            self.polled.try_set(Some(version));
        }
    }

    /// The session ended: the notice (or, if this browser logged out, the login page).
    fn show_ended(&self, reason: EndReason, tell_others: bool) {
        if self.is_over() {
            return;
        }
        self.stop();
        if tell_others {
            self.tell(TabMessage::Ended(reason));
        }
        if reason == EndReason::LoggedOut {
            // Logged out in this browser (another tab): no notice, just the login page.
            let _ = window().location().set_href("/login");
            return;
        }
        self.ended.try_set(Some(reason));
    }

    fn stop(&self) {
        if let Some(timer) = self.timer.take() {
            timer.clear();
        }
        if let Some(source) = self.source.borrow_mut().take() {
            source.close();
        }
    }

    fn set_healthy(self: &Rc<Self>, healthy: bool) {
        if self.healthy.replace(healthy) == healthy {
            return;
        }
        if self.holder.get() {
            self.tell(TabMessage::Stream(healthy));
        }
        if healthy {
            self.schedule_poll();
        } else {
            // Back to the short interval at once, starting with a poll now.
            self.poll_now();
        }
    }

    fn open_stream(self: &Rc<Self>) {
        if self.is_over() {
            return;
        }
        let Ok(source) = web_sys::EventSource::new(EVENTS_PATH) else { return self.stream_failed() };
        let me = self.clone();
        on_event(&source, "sessions", move |data| {
            if let Ok(StreamSessions { sessions_version }) = serde_json::from_str(&data) {
                me.retry_ms.set(RETRY_FIRST_MS);
                me.set_healthy(true);
                me.saw_version(sessions_version);
                me.tell(TabMessage::Sessions(sessions_version));
            }
        });
        let me = self.clone();
        on_event(&source, "message", move |data| {
            if let Ok(StreamMessage { unread_messages }) = serde_json::from_str(&data) {
                me.unread.try_set(Some(unread_messages));
                me.tell(TabMessage::Unread(unread_messages));
            }
        });
        let me = self.clone();
        on_event(&source, "ended", move |data| {
            let reason = serde_json::from_str::<StreamEnded>(&data).map_or(EndReason::Other, |e| e.reason);
            me.show_ended(reason, true);
        });
        let me = self.clone();
        on_event(&source, "none", move |_| me.show_ended(EndReason::LoggedOut, true));
        let me = self.clone();
        let on_error = Closure::<dyn Fn(web_sys::Event)>::new(move |_: web_sys::Event| me.stream_failed());
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        *self.source.borrow_mut() = Some(source);
    }

    /// The stream could not open, or broke (a proxy, a restart, the network): poll often, and try
    /// the stream again later. Nothing is shown.
    fn stream_failed(self: &Rc<Self>) {
        if let Some(source) = self.source.borrow_mut().take() {
            source.close();
        }
        if self.is_over() {
            return;
        }
        self.set_healthy(false);
        let wait = self.retry_ms.get();
        self.retry_ms.set(wait.saturating_mul(2).min(RETRY_MAX_MS));
        let me = self.clone();
        set_timeout(move || me.open_stream(), Duration::from_millis(u64::from(wait)));
    }
}

fn on_event(source: &web_sys::EventSource, name: &str, handle: impl Fn(String) + 'static) {
    let listener = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
        handle(ev.data().as_string().unwrap_or_default());
    });
    let _ = source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
    listener.forget();
}

async fn fetch_status() -> Option<SessionStatus> {
    let init = web_sys::RequestInit::new();
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    init.set_cache(web_sys::RequestCache::NoStore);
    let response = JsFuture::from(window().fetch_with_str_and_init(STATUS_PATH, &init)).await.ok()?;
    let response: web_sys::Response = response.dyn_into().ok()?;
    if !response.ok() {
        return None;
    }
    let text = JsFuture::from(response.text().ok()?).await.ok()?.as_string()?;
    serde_json::from_str(&text).ok()
}
