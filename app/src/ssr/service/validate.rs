//! Input rules for what people type: e-mail addresses, names, device names.

use crate::model::{limits, AppError};
use unicode_normalization::UnicodeNormalization;

pub(super) fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max_chars).collect()
}

/// Characters that change how text around them is shown without being visible themselves:
/// bidirectional overrides and isolates (which can make "moc.elpmaxe" read as "example.com") and
/// zero-width characters (which make two different names look the same).
pub fn is_invisible_formatting(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{180E}')
}

/// The e-mail address a login is for: trimmed, NFC-normalised and lower-cased, so that the same
/// address typed on two keyboards is one account (and one throttle counter).
pub fn login_email(email: &str) -> String {
    email.trim().nfc().collect::<String>().to_lowercase()
}

/// A plausible address (one `@`, a dot in the domain, no spaces, nothing invisible), as
/// [`login_email`] normalises it.
pub fn normalize_email(email: &str) -> Result<String, AppError> {
    let email = login_email(email);
    let invalid = || AppError::validation("email", "Enter a valid e-mail address, like name@example.com.");
    if email.is_empty() || email.len() > limits::EMAIL_MAX {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok =
        domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains("..");
    let odd = |c: char| c.is_whitespace() || c.is_control() || is_invisible_formatting(c);
    if local.is_empty() || !domain_ok || domain.contains('@') || email.chars().any(odd) {
        return Err(invalid());
    }
    Ok(email)
}

/// The one rule for names people give (their own, their devices'): trimmed and NFC-normalised;
/// 1 to `max` characters; no control characters and no invisible formatting characters, which
/// are refused with a message rather than silently removed.
fn visible_text(raw: &str, field: &str, what: &str, max: usize) -> Result<String, AppError> {
    let text: String = raw.trim().nfc().collect();
    if text.chars().any(|c| c.is_control() || is_invisible_formatting(c)) {
        return Err(AppError::validation(
            field,
            format!("The {what} cannot contain control characters or invisible formatting characters."),
        ));
    }
    let n = text.chars().count();
    if n == 0 || n > max {
        return Err(AppError::validation(field, format!("The {what} must be 1 to {max} characters long.")));
    }
    Ok(text)
}

pub fn validate_name(name: &str) -> Result<String, AppError> {
    if name.trim().is_empty() {
        return Err(AppError::validation("name", "Enter your name."));
    }
    visible_text(name, "name", "name", limits::NAME_MAX)
}

/// What the mail app calls its device ("Pixel 8"); see [`visible_text`].
pub fn validate_device_name(name: &str) -> Result<String, AppError> {
    visible_text(name, "device_name", "device name", limits::DEVICE_NAME_MAX)
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
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "alice@example",
            "a b@example.com",
            "a@b@c.com",
            "a@.com",
            "a@b..com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn device_names_refuse_control_and_invisible_characters_with_a_message() {
        assert_eq!(validate_device_name(" Pixel 8\n").unwrap(), "Pixel 8");
        for bad in ["Pixel\u{0} 8", "\u{7}\u{1b}", "Pixel\u{202E}8 lexiP", "Pi\u{200B}xel", "\u{2066}Pixel"] {
            let err = validate_device_name(bad).unwrap_err();
            assert_eq!(err.field(), Some("device_name"), "{bad:?}");
            assert!(err.to_string().contains("invisible formatting"), "{bad:?}: {err}");
        }
        assert!(validate_device_name(&"x".repeat(65)).is_err());
        assert!(validate_device_name(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn names_refuse_bidi_overrides_and_zero_width_characters() {
        for bad in ["Ada\u{202E}ecalevoL", "A\u{200D}da", "\u{FEFF}Ada", "Ada\u{7}"] {
            assert_eq!(validate_name(bad).unwrap_err().field(), Some("name"), "{bad:?}");
        }
        // Combining sequences are stored composed, so look-alike spellings are one name.
        assert_eq!(validate_name("Jose\u{301}").unwrap(), "Jos\u{e9}");
    }

    #[test]
    fn emails_are_nfc_normalised_and_refuse_invisible_characters() {
        assert_eq!(normalize_email("jose\u{301}@example.com").unwrap(), "jos\u{e9}@example.com");
        assert_eq!(normalize_email("jos\u{e9}@example.com").unwrap(), login_email("JOSE\u{301}@Example.com"));
        assert!(normalize_email("ad\u{200B}a@example.com").is_err());
        assert!(normalize_email("ada@exa\u{202E}mple.com").is_err());
    }

    #[test]
    fn names_are_required_and_bounded() {
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"n".repeat(limits::NAME_MAX + 1)).is_err());
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
                prop_assert!(ip_throttle_key(&ip).as_str().chars().count() <= 3 + 64);
            }
        }
    }
}
