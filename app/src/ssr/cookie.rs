//! The session cookie. Over https it is `__Host-` prefixed and `Secure`; on plain http
//! (development, tests on 127.0.0.1) it is neither, or browsers would drop it.

/// How long a browser keeps its device cookie: a year.
pub const DEVICE_MAX_AGE_SECS: i64 = 365 * 24 * 3600;

fn cookies(headers: &http::HeaderMap) -> impl Iterator<Item = &str> {
    headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok())
}

fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// What [`CookieSettings::session_cookies_in`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionCookies {
    pub token: Option<String>,
    /// The short-lived cookie of a device-bound session.
    pub bound: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CookieSettings {
    pub secure: bool,
}

impl CookieSettings {
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-postern_session"
        } else {
            "postern_session"
        }
    }

    /// `Set-Cookie` value for a new token. A remembered login persists for `max_age_secs`; any
    /// other is a browser-session cookie that dies with the browser.
    pub fn set(&self, token: &str, persistent_max_age_secs: Option<i64>) -> String {
        let mut c = format!("{}={token}; Path=/; HttpOnly; SameSite=Lax", self.name());
        if let Some(secs) = persistent_max_age_secs {
            c.push_str(&format!("; Max-Age={secs}"));
        }
        if self.secure {
            c.push_str("; Secure");
        }
        c
    }

    pub fn clear(&self) -> String {
        let mut c = format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0", self.name());
        if self.secure {
            c.push_str("; Secure");
        }
        c
    }

    /// The session token in a `Cookie` request header, if any.
    pub fn token_from_header<'a>(&self, header: &'a str) -> Option<&'a str> {
        cookie_value(header, self.name())
    }

    pub fn device_name(&self) -> &'static str {
        if self.secure {
            "__Host-postern_device"
        } else {
            "postern_device"
        }
    }

    /// `Set-Cookie` value for the browser's device id: random, long-lived (a year), never a
    /// fingerprint. A browser that has logged in to an account before is throttled on a counter
    /// of its own (see the README's "Login throttling").
    pub fn set_device(&self, device_id: &str) -> String {
        let mut c = format!(
            "{}={device_id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={DEVICE_MAX_AGE_SECS}",
            self.device_name()
        );
        if self.secure {
            c.push_str("; Secure");
        }
        c
    }

    /// The device id in a `Cookie` request header, if any.
    pub fn device_from_header<'a>(&self, header: &'a str) -> Option<&'a str> {
        cookie_value(header, self.device_name())
    }

    /// The short-lived cookie of a device-bound session (DBSC).
    pub fn bound_name(&self) -> &'static str {
        if self.secure {
            "__Host-postern_bound"
        } else {
            "postern_bound"
        }
    }

    /// The bound cookie's attributes, byte for byte as in its `Set-Cookie` and in the session
    /// instructions' `credentials` (Chromium compares them to tell when the cookie is missing).
    pub fn bound_attributes(&self) -> &'static str {
        if self.secure {
            "Path=/; HttpOnly; SameSite=Lax; Secure"
        } else {
            "Path=/; HttpOnly; SameSite=Lax"
        }
    }

    /// `Set-Cookie` value for a bound session's short-lived cookie.
    pub fn set_bound(&self, value: &str, max_age_secs: i64) -> String {
        format!("{}={value}; {}; Max-Age={max_age_secs}", self.bound_name(), self.bound_attributes())
    }

    /// The session token and the bound cookie among a request's headers (every `Cookie` header),
    /// read in one pass: every page, stream and poll asks for both. For each, the first `Cookie`
    /// header that names it with a value wins, and within a header its first pair.
    pub fn session_cookies_in(&self, headers: &http::HeaderMap) -> SessionCookies {
        let (token_name, bound_name) = (self.name(), self.bound_name());
        let mut found = SessionCookies::default();
        for header in cookies(headers) {
            let (mut token_named, mut bound_named) = (false, false);
            for (name, value) in header.split(';').filter_map(|pair| pair.trim().split_once('=')) {
                let (slot, named) = match name {
                    n if n == token_name => (&mut found.token, &mut token_named),
                    n if n == bound_name => (&mut found.bound, &mut bound_named),
                    _ => continue,
                };
                let value = value.trim();
                if !std::mem::replace(named, true) && slot.is_none() && !value.is_empty() {
                    *slot = Some(value.to_owned());
                }
            }
            if found.token.is_some() && found.bound.is_some() {
                break;
            }
        }
        found
    }

    /// The device id among a request's headers, if any.
    pub fn device_in(&self, headers: &http::HeaderMap) -> Option<String> {
        cookies(headers).find_map(|h| self.device_from_header(h).map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookies_are_read_in_one_pass_with_the_first_named_value_winning() {
        let plain = CookieSettings { secure: false };
        let read = |cookies: &[&str]| {
            let mut headers = http::HeaderMap::new();
            for c in cookies {
                headers.append(http::header::COOKIE, c.parse().unwrap());
            }
            let found = plain.session_cookies_in(&headers);
            (found.token, found.bound)
        };
        let some = |s: &str| Some(s.to_string());
        assert_eq!(read(&[]), (None, None));
        assert_eq!(read(&["a=1; postern_session=tok ; postern_bound=b1"]), (some("tok"), some("b1")));
        assert_eq!(read(&["postern_bound=b1", "postern_session=tok"]), (some("tok"), some("b1")), "across headers");
        assert_eq!(read(&["postern_session=first; postern_session=second"]), (some("first"), None));
        // An empty value: that header names none, a later header may.
        assert_eq!(read(&["postern_session=; postern_session=x", "postern_session=y"]), (some("y"), None));
        assert_eq!(read(&["postern_session=a", "postern_session=b"]), (some("a"), None));
        assert_eq!(read(&["__Host-postern_session=tok; xpostern_session=no"]), (None, None), "names match whole");
        assert_eq!(read(&["postern_session"]), (None, None));
    }

    #[test]
    fn the_device_cookie_lives_a_year_and_is_host_prefixed_over_https() {
        let plain = CookieSettings { secure: false };
        assert_eq!(plain.set_device("d"), "postern_device=d; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000");
        let https = CookieSettings { secure: true };
        assert_eq!(
            https.set_device("d"),
            "__Host-postern_device=d; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000; Secure"
        );
        let header = "postern_session=tok; __Host-postern_device=dev";
        assert_eq!(https.device_from_header(header), Some("dev"));
        assert_eq!(plain.device_from_header(header), None);
        assert_eq!(plain.token_from_header(header), Some("tok"));
    }

    #[test]
    fn plain_http_cookie_is_not_secure() {
        let c = CookieSettings { secure: false };
        let set = c.set("tok", None);
        assert_eq!(set, "postern_session=tok; Path=/; HttpOnly; SameSite=Lax");
        assert!(c.set("tok", Some(60)).contains("Max-Age=60"));
    }

    #[test]
    fn https_cookie_is_host_prefixed_and_secure() {
        let c = CookieSettings { secure: true };
        let set = c.set("tok", Some(60));
        assert!(set.starts_with("__Host-postern_session=tok; Path=/; HttpOnly; SameSite=Lax"));
        assert!(set.ends_with("; Secure"));
        assert!(c.clear().contains("Max-Age=0"));
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn token_from_header_never_panics_and_returns_a_clean_value(header in any::<String>(), secure in any::<bool>()) {
                let c = CookieSettings { secure };
                if let Some(token) = c.token_from_header(&header) {
                    prop_assert!(!token.is_empty());
                    prop_assert!(!token.contains(';'));
                    prop_assert_eq!(token.trim(), token);
                    prop_assert!(header.contains(token));
                }
            }

            #[test]
            fn the_session_cookie_is_found_among_any_others(
                before in proptest::collection::vec(("[a-z_]{1,10}", "[A-Za-z0-9=_-]{0,20}"), 0..4),
                after in proptest::collection::vec(("[a-z_]{1,10}", "[A-Za-z0-9=_-]{0,20}"), 0..4),
                token in "[A-Za-z0-9_-]{1,64}",
                secure in any::<bool>(),
            ) {
                let c = CookieSettings { secure };
                let others = |v: &Vec<(String, String)>| {
                    v.iter().filter(|(n, _)| n != c.name()).map(|(n, val)| format!("{n}={val}")).collect::<Vec<_>>()
                };
                let mut parts = others(&before);
                parts.push(format!("{}={token}", c.name()));
                parts.extend(others(&after));
                let header = parts.join("; ");
                prop_assert_eq!(c.token_from_header(&header), Some(token.as_str()));
            }
        }
    }

    #[test]
    fn finds_the_token_among_other_cookies() {
        let c = CookieSettings { secure: false };
        assert_eq!(c.token_from_header("a=1; postern_session=abc; b=2"), Some("abc"));
        assert_eq!(c.token_from_header("a=1"), None);
        assert_eq!(c.token_from_header("postern_session="), None);
        assert_eq!(c.token_from_header("xpostern_session=abc"), None);
    }
}
