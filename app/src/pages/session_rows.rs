//! The rows of Manage Sessions: the active sessions (a table that becomes one card per session
//! on a narrow screen, by CSS alone) and "Recently ended", with their times, device icons and
//! buttons. Rendered inside the `SessionsManager` island, so the buttons work once it is live,
//! and as plain forms (to the confirmation and rename pages) before or without JavaScript.

use super::sessions::Pending;
use crate::api::RenameSession;
use crate::components::{FormError, TrashIcon};
use crate::model::{
    limits, location_words, AppError, DeviceType, EndedSessionView, SessionId, SessionKind, SessionView,
};
use crate::time_fmt::{exact_utc, format_utc, iso_utc};
use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Where the no-JavaScript forms of a row lead.
pub const END_PAGE: &str = "/settings/sessions/end";
pub const RENAME_PAGE: &str = "/settings/sessions/rename";

/// What "Device-bound" means, on hover.
const BOUND_TOOLTIP: &str =
    "Its cookies only work on the device that holds its key: a copy of them stops working within minutes.";

/// Whether the page is live (hydrated), and the browser's "now" while it is: until then every
/// time is the server's UTC text, so that hydration sees the HTML it rendered.
#[derive(Clone, Copy)]
pub struct LiveClock {
    pub live: RwSignal<bool>,
    pub now: RwSignal<i64>,
}

/// What the rows share with the island that holds them.
#[derive(Clone, Copy)]
pub struct RowCtx {
    pub pending: RwSignal<Option<Pending>>,
    /// The session whose "Device name" field is open.
    pub renaming: RwSignal<Option<SessionId>>,
    pub clock: LiveClock,
    /// Runs after a rename of this session was saved: the list is read again (and focus goes
    /// back to the session's "Rename" button).
    pub renamed: Callback<SessionId>,
}

/// A time: UTC text from the server; once live, the reader's own time zone and locale, and for
/// "Last active" (`last_active`: whether it is the session asking) "Active now", "12 minutes
/// ago", "Yesterday". The title holds the exact time with its zone.
#[component]
pub fn When(ms: i64, clock: LiveClock, #[prop(optional)] last_active: Option<bool>) -> impl IntoView {
    let text = move || {
        if !clock.live.get() {
            return format_utc(ms);
        }
        #[cfg(feature = "hydrate")]
        {
            use crate::local_time;
            let now = clock.now.get();
            match last_active {
                Some(current) => {
                    crate::time_fmt::last_active_words(now, ms, current, local_time::is_yesterday(ms, now))
                        .unwrap_or_else(|| local_time::date(ms))
                }
                None => local_time::date_time(ms),
            }
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = last_active;
            format_utc(ms)
        }
    };
    let title = move || {
        #[cfg(feature = "hydrate")]
        if clock.live.get() {
            return crate::local_time::exact(ms);
        }
        exact_utc(ms)
    };
    view! { <time datetime=iso_utc(ms) title=title>{text}</time> }
}

/// The device's icon, named for screen readers ("Computer", "Phone", "Mail app").
#[component]
fn DeviceIcon(kind: DeviceType) -> impl IntoView {
    let path = match kind {
        DeviceType::Desktop => "M3 4h18v12H3V4zm2 2v8h14V6H5zm3 12h8v2H8v-2z",
        DeviceType::Phone => "M7 2h10v20H7V2zm2 2v14h6V4H9zm2 15h2v1h-2v-1z",
        DeviceType::App => "M2 5h20v14H2V5zm2 2.4V17h16V7.4l-8 5-8-5zM5.6 7 12 11l6.4-4H5.6z",
    };
    view! {
        <svg class="device-icon" viewBox="0 0 24 24" width="24" height="24" role="img" aria-label=kind.words()
            focusable="false">
            <path fill="currentColor" d=path></path>
        </svg>
    }
}

/// The active sessions.
#[component]
pub fn SessionsTable(list: Vec<SessionView>, ctx: RowCtx) -> impl IntoView {
    view! {
        <div class="table-wrap sessions-wrap">
            <table class="sessions cards" role="table" aria-labelledby="sessions-heading">
                <thead role="rowgroup">
                    <tr role="row">
                        <th scope="col" role="columnheader">"Device"</th>
                        <th scope="col" role="columnheader">"IP address"</th>
                        <th scope="col" role="columnheader">"Logged in"</th>
                        <th scope="col" role="columnheader">"Last active"</th>
                        <th scope="col" role="columnheader"><span class="visually-hidden">"Action"</span></th>
                    </tr>
                </thead>
                <tbody role="rowgroup">
                    {list.into_iter().map(|s| view! { <SessionRow s ctx/> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn SessionRow(s: SessionView, ctx: RowCtx) -> impl IntoView {
    let remembered = match (s.auto_login, s.kind) {
        (true, SessionKind::Browser) => Some("Stay logged in"),
        (true, SessionKind::App) => Some("Auto-login"),
        _ => None,
    };
    let id = s.id.clone();
    let editing = {
        let id = id.clone();
        move || ctx.renaming.with(|r| r.as_ref() == Some(&id))
    };
    let rename_form = {
        let (id, name) = (id.clone(), s.device.clone());
        let editing = editing.clone();
        move || editing().then(|| view! { <RenameInline id=id.clone() name=name.clone() ctx/> })
    };
    let ask_rename = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            ctx.renaming.set(Some(id.clone()));
        }
    };
    let end = (!s.current).then(|| {
        let (id, device) = (id.clone(), s.device.clone());
        let ask = move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            ctx.pending.set(Some(Pending::End { id: id.clone(), device: device.clone() }));
        };
        view! {
            <form method="get" action=END_PAGE on:submit=ask>
                <input type="hidden" name="id" value=s.id.to_string()/>
                <button type="submit" class="icon-button end-button" aria-label="End session"
                    title=format!("End session: {}", s.device)>
                    <TrashIcon/>
                    <span class="card-only" aria-hidden="true">"End session"</span>
                </button>
            </form>
        }
    });
    view! {
        <tr role="row" class:current=s.current>
            <td role="cell" class="device-cell">
                <div class="device-line">
                    <DeviceIcon kind=s.device_type/>
                    <span class="device" title=s.user_agent.clone()>{s.device.clone()}</span>
                </div>
                {s.parsed_device.clone().map(|p| view! { <span class="parsed-device">{p}</span> })}
                {remembered.map(|r| view! { <span class="badge">{r}</span> })}
                {s.bound.then(|| view! {
                    <span class="badge bound" title=BOUND_TOOLTIP>"Device-bound"</span>
                })}
                {rename_form}
            </td>
            <td role="cell" class="where" data-label="IP address">
                <span class="mono">{s.ip.clone()}</span>
                {s.location.as_deref().map(|l| view! { <span class="location">{location_words(l)}</span> })}
            </td>
            <td role="cell" data-label="Logged in"><When ms=s.created_at clock=ctx.clock/></td>
            <td role="cell" data-label="Last active"><When ms=s.last_active_at clock=ctx.clock last_active=s.current/></td>
            <td role="cell" class="action">
                <div class="actions">
                    {s.current.then(|| view! { <span class="current-marker">"Current session"</span> })}
                    <form method="get" action=RENAME_PAGE on:submit=ask_rename>
                        <input type="hidden" name="id" value=s.id.to_string()/>
                        <button type="submit" class="button secondary compact" title=format!("Rename {}", s.device)
                            data-rename=s.id.to_string() aria-expanded=move || editing().to_string()>
                            "Rename"
                        </button>
                    </form>
                    {end}
                </div>
            </td>
        </tr>
    }
}

/// "Device name" and "Save", in the row (JavaScript); `/settings/sessions/rename` without.
#[component]
fn RenameInline(id: SessionId, name: String, ctx: RowCtx) -> impl IntoView {
    let error = RwSignal::new(None::<AppError>);
    let pending = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Input>::new();
    // Focus moves into the field that just opened, and back to the list when it closes.
    Effect::new(move |_| {
        if let Some(field) = input.get() {
            let _ = field.focus();
            field.select();
        }
    });
    #[cfg(feature = "hydrate")]
    let id_saved = id.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        let id_saved = id_saved.clone();
        #[cfg(feature = "hydrate")]
        crate::client::submit(ev, pending, move |result| match result {
            Ok(()) => {
                ctx.renaming.set(None);
                ctx.renamed.run(id_saved.clone());
            }
            Err(err) => error.set(Some(err)),
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let field_id = format!("rename-{}", id.as_str());
    #[cfg(feature = "hydrate")]
    let id_cancel = id.clone();
    view! {
        <form class="rename-form stack" action=RenameSession::PATH method="post" novalidate=true on:submit=on_submit>
            <FormError error/>
            <input type="hidden" name="id" value=id.to_string()/>
            <DeviceNameField field_id value=name input/>
            <div class="row">
                <button type="submit" class="button primary compact" disabled=move || pending.get()>"Save"</button>
                <button type="button" class="button secondary compact" on:click=move |_| {
                    ctx.renaming.set(None);
                    #[cfg(feature = "hydrate")]
                    focus_rename_button(&id_cancel);
                }>
                    "Cancel"
                </button>
            </div>
        </form>
    }
}

/// Focus on the session's "Rename" button, where a closed or saved rename leaves the reader.
#[cfg(feature = "hydrate")]
pub fn focus_rename_button(id: &SessionId) {
    use wasm_bindgen::JsCast;
    let selector = format!("button[data-rename=\"{}\"]", id.as_str());
    if let Ok(Some(button)) = document().query_selector(&selector) {
        if let Ok(button) = button.dyn_into::<web_sys::HtmlElement>() {
            let _ = button.focus();
        }
    }
}

/// The "Device name" field of a rename, inline or on its own page.
#[component]
pub fn DeviceNameField(
    field_id: String,
    value: String,
    #[prop(optional)] input: Option<NodeRef<leptos::html::Input>>,
) -> impl IntoView {
    let hint_id = format!("{field_id}-hint");
    let input = input.unwrap_or_default();
    view! {
        <div class="field">
            <label for=field_id.clone()>"Device name"</label>
            // No maxlength: a longer name gets the server's message instead of being cut silently.
            <input node_ref=input id=field_id name="device_name" type="text" value=value autocomplete="off"
                aria-describedby=hint_id.clone()/>
            <p class="hint" id=hint_id>
                {format!(
                    "At most {} characters. Leave it empty to show the device this session was detected as.",
                    limits::DEVICE_NAME_MAX
                )}
            </p>
        </div>
    }
}

/// "Recently ended": how each session of the retention period ended.
#[component]
pub fn EndedTable(ended: Vec<EndedSessionView>, clock: LiveClock) -> impl IntoView {
    let days = super::lifetimes().retention_days;
    view! {
        <h2 id="ended-heading">"Recently ended"</h2>
        {if ended.is_empty() {
            Either::Left(view! { <p>{format!("No sessions ended in the last {days} days.")}</p> })
        } else {
            Either::Right(view! {
                <div class="table-wrap sessions-wrap">
                    <table class="sessions ended cards" role="table" aria-labelledby="ended-heading">
                        <thead role="rowgroup">
                            <tr role="row">
                                <th scope="col" role="columnheader">"Device"</th>
                                <th scope="col" role="columnheader">"IP address"</th>
                                <th scope="col" role="columnheader">"Ended"</th>
                                <th scope="col" role="columnheader">"How"</th>
                            </tr>
                        </thead>
                        <tbody role="rowgroup">
                            {ended
                                .into_iter()
                                .map(|s| view! {
                                    <tr role="row">
                                        <td role="cell" class="device-cell">
                                            <span class="device" title=s.user_agent.clone()>{s.device.clone()}</span>
                                        </td>
                                        <td role="cell" class="where" data-label="IP address">
                                            <span class="mono">{s.ip.clone()}</span>
                                            {s.location.as_deref().map(|l| view! {
                                                <span class="location">{location_words(l)}</span>
                                            })}
                                        </td>
                                        <td role="cell" data-label="Ended"><When ms=s.ended_at clock/></td>
                                        <td role="cell" data-label="How">{s.how()}</td>
                                    </tr>
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
                <p>
                    {format!("Sessions that ended in the last {days} days, at most {}. ", crate::model::ENDED_SHOWN)}
                    <a href="/settings/activity?show=ended">"See every ended session in Security activity"</a>
                </p>
            })
        }}
    }
}
