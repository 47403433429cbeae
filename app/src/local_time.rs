//! Times in the reader's own time zone and locale, through the browser's `Intl` (no time zone
//! data in the WASM). Only live pages use it; the server renders UTC (see `time_fmt`).

use js_sys::{Array, Date, Intl, Object, Reflect};
use wasm_bindgen::JsValue;

fn format(ms: i64, options: &[(&str, &str)]) -> String {
    let opts = Object::new();
    for (key, value) in options {
        let _ = Reflect::set(&opts, &JsValue::from_str(key), &JsValue::from_str(value));
    }
    // No locales: the browser's own.
    let formatter = Intl::DateTimeFormat::new(&Array::new(), &opts);
    let date = Date::new(&JsValue::from_f64(ms as f64));
    formatter.format().call1(&JsValue::UNDEFINED, &date).ok().and_then(|s| s.as_string()).unwrap_or_default()
}

/// "1 Dec 2026, 09:31" / "Dec 1, 2026, 9:31 AM", as the reader's locale writes it.
pub fn date_time(ms: i64) -> String {
    format(ms, &[("dateStyle", "medium"), ("timeStyle", "short")])
}

/// The date alone.
pub fn date(ms: i64) -> String {
    format(ms, &[("dateStyle", "medium")])
}

/// The exact time with its zone, for a title: "Tuesday, 1 December 2026 at 09:31:05 CET".
pub fn exact(ms: i64) -> String {
    format(ms, &[("dateStyle", "full"), ("timeStyle", "long")])
}

/// Now, by the browser's clock.
pub fn now() -> i64 {
    Date::now() as i64
}

/// Whether `ms` falls on the day before `now`'s, in the reader's time zone.
pub fn is_yesterday(ms: i64, now: i64) -> bool {
    let day = |ms: i64| {
        let d = Date::new(&JsValue::from_f64(ms as f64));
        (d.get_full_year(), d.get_month(), d.get_date())
    };
    let today = Date::new(&JsValue::from_f64(now as f64));
    // Noon of today, minus a day: DST changes cannot skip or repeat the day.
    let noon = Date::new_with_year_month_day_hr_min_sec(
        today.get_full_year(),
        today.get_month() as i32,
        today.get_date() as i32,
        12,
        0,
        0,
    );
    day(ms) == day(noon.get_time() as i64 - 86_400_000)
}
