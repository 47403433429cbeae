//! Input rules for what people type: e-mail addresses, names, device names.

use crate::model::{limits, AppError};

pub(super) fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max_chars).collect()
}

/// Trimmed and lower-cased; a plausible address (one `@`, a dot in the domain, no spaces).
pub fn normalize_email(email: &str) -> Result<String, AppError> {
    let email = email.trim().to_lowercase();
    let invalid = || AppError::validation("email", "Enter a valid e-mail address, like name@example.com.");
    if email.is_empty() || email.len() > limits::EMAIL_MAX {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || !domain_ok || domain.contains('@') || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    Ok(email)
}

pub fn validate_name(name: &str) -> Result<String, AppError> {
    let name: String = name.trim().chars().filter(|c| !c.is_control()).collect();
    if name.is_empty() {
        return Err(AppError::validation("name", "Enter your name."));
    }
    if name.chars().count() > limits::NAME_MAX {
        return Err(AppError::validation("name", "Use at most 100 characters for your name."));
    }
    Ok(name)
}

/// 1–64 characters after control characters are stripped and white space trimmed.
pub fn validate_device_name(name: &str) -> Result<String, AppError> {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim().to_string();
    let n = name.chars().count();
    if n == 0 || n > limits::DEVICE_NAME_MAX {
        return Err(AppError::validation("device_name", "The device name must be 1 to 64 characters long."));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(normalize_email("  Alice@Example.COM ").unwrap(), "alice@example.com");
    }

    #[test]
    fn implausible_emails_are_refused() {
        for bad in ["", "alice", "alice@", "@example.com", "alice@example", "a b@example.com", "a@b@c.com", "a@.com", "a@b..com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn device_names_lose_control_characters() {
        assert_eq!(validate_device_name(" Pixel\u{0} 8\n").unwrap(), "Pixel 8");
        assert!(validate_device_name("\u{7}\u{1b}").is_err());
        assert!(validate_device_name(&"x".repeat(65)).is_err());
        assert!(validate_device_name(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn names_are_required_and_bounded() {
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"n".repeat(101)).is_err());
        assert_eq!(validate_name(" Ada Lovelace ").unwrap(), "Ada Lovelace");
    }

    mod props {
        use super::super::*;
        use crate::ssr::service::ip_throttle_key;
        use proptest::prelude::*;

        /// Anything a form field could hold: arbitrary Unicode, look-alikes of addresses, and
        /// overlong input.
        fn input() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "[ \t]{0,2}[A-Za-z0-9._%+-]{0,20}@[A-Za-z0-9.-]{0,20}[ \t]{0,2}",
                r"\PC{0,80}",
                "[a-z@. ]{240,300}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn normalize_email_never_panics_and_accepts_only_plausible_addresses(raw in input()) {
                let result = normalize_email(&raw);
                if let Ok(email) = result.clone() {
                    prop_assert!(!email.is_empty() && email.len() <= limits::EMAIL_MAX);
                    prop_assert_eq!(email.matches('@').count(), 1);
                    prop_assert!(!email.chars().any(|c| c.is_whitespace() || c.is_control()));
                    prop_assert_eq!(email.to_lowercase(), email.clone());
                    prop_assert_eq!(normalize_email(&email).ok(), Some(email.clone()), "normalising twice changes nothing");
                } else {
                    let err = result.unwrap_err();
                    prop_assert_eq!(err.field(), Some("email"));
                }
            }

            #[test]
            fn plausible_addresses_are_accepted_in_any_case(local in "[A-Za-z0-9._+-]{1,30}", domain in "[A-Za-z0-9-]{1,20}(\\.[A-Za-z]{2,6}){1,2}") {
                let raw = format!("  {local}@{domain} ");
                prop_assert_eq!(normalize_email(&raw), Ok(format!("{local}@{domain}").to_lowercase()));
            }

            #[test]
            fn device_names_are_1_to_64_characters_without_control_characters(raw in input()) {
                match validate_device_name(&raw) {
                    Ok(name) => {
                        let n = name.chars().count();
                        prop_assert!((1..=limits::DEVICE_NAME_MAX).contains(&n), "{} characters", n);
                        prop_assert!(!name.chars().any(char::is_control));
                        prop_assert_eq!(name.trim(), name.as_str());
                        prop_assert_eq!(validate_device_name(&name).ok(), Some(name.clone()));
                    }
                    Err(err) => {
                        prop_assert_eq!(err.field(), Some("device_name"));
                    }
                }
            }

            #[test]
            fn throttle_keys_never_panic_and_stay_short(ip in input()) {
                prop_assert!(ip_throttle_key(&ip).chars().count() <= 3 + 64);
            }
        }
    }
}
