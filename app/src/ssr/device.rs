//! "Chrome on Linux": the device column, from the user agent. Parsing is woothee's (a small,
//! maintained, data-driven parser with no regex set to load at start-up).

use crate::model::{DeviceType, SessionKind};

/// A person's words for the device a session runs on.
pub fn describe(kind: SessionKind, device_name: Option<&str>, user_agent: &str) -> String {
    identify(kind, device_name, user_agent).0
}

/// The words for the device and which icon it gets, from one parse of the user agent.
pub fn identify(kind: SessionKind, device_name: Option<&str>, user_agent: &str) -> (String, DeviceType) {
    if kind == SessionKind::App {
        return (format!("Mail app on {}", device_name.unwrap_or("unknown device")), DeviceType::App);
    }
    let Some(ua) = woothee::parser::Parser::new().parse(user_agent) else {
        return ("Unknown browser".to_string(), DeviceType::Desktop);
    };
    let device_type = match ua.category {
        "smartphone" | "mobilephone" => DeviceType::Phone,
        _ => DeviceType::Desktop,
    };
    let browser = match ua.name {
        // woothee names curl, wget and friends "HTTP Library": not a browser a person would know.
        "UNKNOWN" | "" | "HTTP Library" => "Unknown browser",
        name => name,
    };
    let os = match ua.os {
        "UNKNOWN" | "" => None,
        "Mac OSX" => Some("macOS"),
        os if os.starts_with("Windows") => Some("Windows"),
        os => Some(os),
    };
    let words = match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_string(),
    };
    (words, device_type)
}

/// The name a session goes by: its owner's, else the parsed device.
pub fn named(custom_name: Option<&str>, parsed: String) -> String {
    custom_name.map(str::to_string).unwrap_or(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_common_browsers() {
        let chrome_linux =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(describe(SessionKind::Browser, None, chrome_linux), "Chrome on Linux");
        let firefox_windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
        assert_eq!(describe(SessionKind::Browser, None, firefox_windows), "Firefox on Windows");
    }

    #[test]
    fn is_honest_about_unknown_agents() {
        assert_eq!(describe(SessionKind::Browser, None, "curl/8.5.0"), "Unknown browser");
        assert_eq!(describe(SessionKind::Browser, None, ""), "Unknown browser");
    }

    #[test]
    fn tells_phones_from_computers() {
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(identify(SessionKind::Browser, None, iphone).1, DeviceType::Phone);
        let firefox_windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
        assert_eq!(identify(SessionKind::Browser, None, firefox_windows).1, DeviceType::Desktop);
        assert_eq!(identify(SessionKind::App, None, iphone).1, DeviceType::App);
    }

    #[test]
    fn names_app_sessions_by_device() {
        assert_eq!(describe(SessionKind::App, Some("Pixel 8"), "okhttp"), "Mail app on Pixel 8");
    }
}
