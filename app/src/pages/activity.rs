//! Settings → Security activity: the account's own security events, newest first, 50 a page,
//! with a filter and the CSV download. Server-rendered; only "End this session" is an island
//! (its confirmation dialog), and it is a plain form without JavaScript.

use crate::api::{activity, EndSession};
use crate::components::ConfirmDialog;
use crate::model::{location_words, ActivityFilter, EventView, SessionId};
use crate::time_fmt::{format_utc, iso_utc};
use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Where the CSV of the activity log is downloaded from (`?show=` the filter).
pub const ACTIVITY_CSV_PATH: &str = "/settings/activity.csv";

#[component]
pub fn ActivityPage() -> impl IntoView {
    let query = use_query_map();
    let (show, page) = query.with_untracked(|q| (q.get("show"), q.get("page").and_then(|p| p.parse::<u32>().ok())));
    let log = super::load(activity(show, page));
    view! {
        <Title text="Security activity"/>
        <h1 id="activity-heading">"Security activity"</h1>
        {match log {
            Ok(log) => Either::Left(view! { <ActivityLog log/> }),
            Err(err) => Either::Right(view! { <p class="form-error" role="alert">{err.to_string()}</p> }),
        }}
    }
}

#[component]
fn ActivityLog(log: crate::model::ActivityPage) -> impl IntoView {
    let filter = log.filter;
    let link = move |page: u32| format!("/settings/activity?show={}&page={page}", filter.as_str());
    view! {
        <p class="lead">
            {format!(
                "Everything that happened to the security of your account in the last {} days: logins, failed \
                 attempts, ended sessions, password and auto-login changes. Only you can see it.",
                super::lifetimes().retention_days
            )}
        </p>
        <form method="get" action="/settings/activity" class="row filter">
            <label for="show">"Show"</label>
            <select id="show" name="show">
                {ActivityFilter::ALL
                    .into_iter()
                    .map(|f| view! { <option value=f.as_str() selected=f == filter>{f.label()}</option> })
                    .collect_view()}
            </select>
            <button type="submit" class="button secondary">"Apply"</button>
            <a class="button secondary" href=format!("{ACTIVITY_CSV_PATH}?show={}", filter.as_str()) download="">
                "Download CSV"
            </a>
        </form>
        {if log.events.is_empty() {
            Either::Left(view! { <p class="empty-state">"Nothing to show."</p> })
        } else {
            Either::Right(view! {
                <div class="table-wrap">
                    <table class="activity" aria-labelledby="activity-heading">
                        <thead>
                            <tr>
                                <th scope="col">"When"</th>
                                <th scope="col">"What"</th>
                                <th scope="col">"Device"</th>
                                <th scope="col">"IP address"</th>
                                <th scope="col"><span class="visually-hidden">"Action"</span></th>
                            </tr>
                        </thead>
                        <tbody>
                            {log.events.into_iter().map(|e| view! { <EventRow e/> }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })
        }}
        <nav class="row pager" aria-label="Pages">
            {(log.page > 1).then(|| view! { <a href=link(log.page - 1)>"Newer"</a> })}
            {log.has_older.then(|| view! { <a href=link(log.page + 1)>"Older"</a> })}
        </nav>
    }
}

#[component]
fn EventRow(e: EventView) -> impl IntoView {
    let action = match (&e.active_session, e.current) {
        (Some(_), true) => Some(Either::Left(view! { <span class="current-marker">"Current session"</span> })),
        (Some(id), false) => Some(Either::Right(view! {
            <EndThisSession id=id.clone() device=e.device.clone().unwrap_or_default()/>
        })),
        _ => None,
    };
    view! {
        <tr>
            <td><time datetime=iso_utc(e.at)>{format_utc(e.at)}</time></td>
            <td>{e.what()}</td>
            <td>{e.device.clone()}</td>
            <td>
                <span class="mono">{e.ip.clone()}</span>
                {e.location.as_deref().map(|l| view! { <span class="location">{location_words(l)}</span> })}
            </td>
            <td class="action">{action}</td>
        </tr>
    }
}

/// One event in a line (Security options' "Security activity" section).
#[component]
pub fn EventSummary(e: EventView) -> impl IntoView {
    view! {
        <strong>{e.what()}</strong>
        " · "
        <time datetime=iso_utc(e.at)>{format_utc(e.at)}</time>
        {e.device.clone().map(|d| view! { " · " {d} })}
    }
}

/// "End this session" for a login the log shows: a plain form post without JavaScript, the
/// confirmation dialog of Manage Sessions with it (then the page reloads).
#[island]
fn EndThisSession(id: SessionId, device: String) -> impl IntoView {
    let asking = RwSignal::new(false);
    let id_text = id.to_string();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        asking.set(true);
    };
    let on_ok = Callback::new(move |_| {
        asking.set(false);
        #[cfg(feature = "hydrate")]
        {
            let id = id.clone();
            leptos::task::spawn_local(async move {
                let fields = web_sys::UrlSearchParams::new().expect("URLSearchParams");
                fields.append("id", id.as_str());
                let _ = crate::client::call(EndSession::PATH, &fields).await;
                let _ = window().location().reload();
            });
        }
    });
    let on_cancel = Callback::new(move |_| asking.set(false));
    let message = format!("{device} will be logged out. It can log in again with your password.");
    view! {
        <form method="post" action=EndSession::PATH on:submit=on_submit>
            <input type="hidden" name="id" value=id_text/>
            <button type="submit" class="button secondary">"End this session"</button>
        </form>
        // Rendered only while asked, so that a page of rows holds one dialog (and one set of ids).
        {move || {
            let message = message.clone();
            asking.get().then(move || view! {
                <ConfirmDialog open=asking title="End this session?".to_string() message on_ok on_cancel/>
            })
        }}
    }
}
