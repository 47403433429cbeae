//! `GET /settings/activity.csv`: the caller's whole retained activity log as CSV, the rows and
//! words of the Security activity page. A cell a spreadsheet would read as a formula (one that
//! starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`, as OWASP's
//! CSV-injection guidance says; the `csv` crate does the quoting.

use crate::error::ApiError;
use crate::AppState;
use app::model::{ActivityFilter, AppError, EventView};
use app::ssr::Resolved;
use app::time_fmt::iso_utc;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;

pub use app::pages::activity::ACTIVITY_CSV_PATH;

#[derive(Deserialize)]
pub struct CsvQuery {
    show: Option<String>,
}

/// The page's session middleware has already sent a request without a session to /login.
pub async fn download(
    State(state): State<AppState>,
    Extension(resolved): Extension<Resolved>,
    Query(query): Query<CsvQuery>,
) -> Result<Response, ApiError> {
    let current = resolved.require()?;
    let filter = ActivityFilter::parse(query.show.as_deref().unwrap_or(""));
    let events = state.ctx.auth.activity_export(current, filter).await?;
    let body = to_csv(&events).map_err(|err| {
        tracing::error!(error = %err, "writing the activity CSV failed");
        AppError::Internal
    })?;
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"postern-security-activity.csv\""),
    );
    Ok(res)
}

/// The rows of the page: When (ISO 8601 UTC), What, Device, IP address.
pub fn to_csv(events: &[EventView]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["When", "What", "Device", "IP address"])?;
    for e in events {
        let device = e.device.as_deref().unwrap_or("");
        let ip = e.ip.as_deref().unwrap_or("");
        out.write_record([iso_utc(e.at), neutralised(&e.what()), neutralised(device), neutralised(ip)])?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}

/// A cell that cannot start a formula.
fn neutralised(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::EventKind;

    fn event(device: &str) -> EventView {
        EventView {
            at: 1_700_000_000_000,
            kind: EventKind::LoginFailed,
            device: Some(device.into()),
            ip: Some("192.0.2.1".into()),
            location: None,
            count: 1,
            active_session: None,
            current: false,
            target_device: None,
        }
    }

    #[test]
    fn formula_cells_are_neutralised_and_the_rest_left_alone() {
        for evil in ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            let csv = to_csv(&[event(evil)]).unwrap();
            let mut reader = csv::Reader::from_reader(csv.as_bytes());
            let row = reader.records().next().unwrap().unwrap();
            assert_eq!(&row[2], format!("'{evil}"), "{csv:?}");
        }
        let csv = to_csv(&[event("Firefox on Windows, 64-bit")]).unwrap();
        assert_eq!(csv.lines().next(), Some("When,What,Device,IP address"));
        assert_eq!(
            csv.lines().nth(1),
            Some("2023-11-14T22:13:20Z,Login failed,\"Firefox on Windows, 64-bit\",192.0.2.1")
        );
    }
}
