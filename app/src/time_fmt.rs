//! Timestamps rendered the same way on the server and in the browser (no hydration mismatch):
//! absolute UTC, computed from the stored milliseconds alone. Once a page is live, islands show
//! local and relative times instead (`local_time`, with [`last_active_words`] deciding which).

/// `2026-11-26 18:05 UTC` for a Unix time in milliseconds.
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

/// `2026-11-26 18:05:09 UTC`: the exact time, for a `<time>`'s title before the page is live.
pub fn exact_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    format!("{}:{:02} UTC", &format_utc(ms)[..16], secs.rem_euclid(60))
}

/// Within this of now, a session reads "Active now".
pub const ACTIVE_NOW_MS: i64 = 5 * 60_000;

/// "Last active" as people say it: "Active now" (within five minutes, and always for the
/// session asking), "12 minutes ago", "2 hours ago", "Yesterday" (`yesterday`: the time falls on
/// the day before today, in the reader's time zone); `None` when only the date will do.
pub fn last_active_words(now: i64, at: i64, current: bool, yesterday: bool) -> Option<String> {
    let ago = now - at;
    let plural = |n: i64, unit: &str| format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" });
    if current || ago < ACTIVE_NOW_MS {
        Some("Active now".into())
    } else if ago < 3_600_000 {
        Some(plural(ago / 60_000, "minute"))
    } else if ago < 86_400_000 {
        Some(plural(ago / 3_600_000, "hour"))
    } else if yesterday {
        Some("Yesterday".into())
    } else {
        None
    }
}

/// ISO 8601 for the `datetime` attribute of `<time>`.
pub fn iso_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// A lifetime in words, in the largest unit that divides it: "30 minutes", "12 hours", "1 day".
pub fn duration_words(ms: i64) -> String {
    const MINUTE: i64 = 60_000;
    let units = [(24 * 60 * MINUTE, "day"), (60 * MINUTE, "hour"), (MINUTE, "minute"), (1000, "second")];
    let (size, unit) = units.into_iter().find(|(size, _)| ms >= *size && ms % size == 0).unwrap_or((1000, "second"));
    let n = ms / size;
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_as_people_say_them() {
        assert_eq!(duration_words(30 * 60_000), "30 minutes");
        assert_eq!(duration_words(12 * 3_600_000), "12 hours");
        assert_eq!(duration_words(30 * 86_400_000), "30 days");
        assert_eq!(duration_words(86_400_000), "1 day");
        assert_eq!(duration_words(90 * 60_000), "90 minutes");
        assert_eq!(duration_words(15 * 60_000), "15 minutes");
    }

    #[test]
    fn formats_the_epoch_and_a_leap_day() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        // 2024-02-29T13:45:30Z
        assert_eq!(format_utc(1_709_214_330_000), "2024-02-29 13:45 UTC");
        assert_eq!(iso_utc(1_709_214_330_000), "2024-02-29T13:45:30Z");
    }

    #[test]
    fn last_activity_reads_relative_while_recent() {
        const MIN: i64 = 60_000;
        let now = 1_709_214_330_000;
        assert_eq!(last_active_words(now, now - 4 * MIN, false, false).as_deref(), Some("Active now"));
        assert_eq!(last_active_words(now, now - 5 * MIN, false, false).as_deref(), Some("5 minutes ago"));
        assert_eq!(last_active_words(now, now - 12 * MIN, false, false).as_deref(), Some("12 minutes ago"));
        assert_eq!(last_active_words(now, now - 61 * MIN, false, false).as_deref(), Some("1 hour ago"));
        assert_eq!(last_active_words(now, now - 120 * MIN, false, false).as_deref(), Some("2 hours ago"));
        assert_eq!(last_active_words(now, now - 30 * 60 * MIN, false, true).as_deref(), Some("Yesterday"));
        assert_eq!(last_active_words(now, now - 3 * 24 * 60 * MIN, false, false), None, "then the date");
        // The session asking is in use: always "Active now", whatever its stored time says.
        assert_eq!(last_active_words(now, now - 120 * MIN, true, false).as_deref(), Some("Active now"));
        // A clock a little ahead of the browser's is still now.
        assert_eq!(last_active_words(now, now + MIN, false, false).as_deref(), Some("Active now"));
    }

    #[test]
    fn the_exact_time_has_seconds_and_zone() {
        assert_eq!(exact_utc(1_709_214_330_000), "2024-02-29 13:45:30 UTC");
    }

    #[test]
    fn formats_before_the_epoch() {
        assert_eq!(format_utc(-1000), "1969-12-31 23:59 UTC");
    }
}
