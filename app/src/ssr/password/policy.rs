//! What a new password must be (NIST 800-63B).

use crate::model::{limits, AppError};

/// NIST 800-63B: a minimum length, a generous maximum that is never truncated, and a check
/// against easily guessed passwords instead of composition rules. The guessability check is
/// zxcvbn's (its dictionaries hold the common-password lists and it also penalises the user's own
/// name and e-mail).
pub fn check_new_password(password: &str, user_inputs: &[&str], field: &str) -> Result<(), AppError> {
    let chars = password.chars().count();
    if chars < limits::PASSWORD_MIN {
        return Err(AppError::validation(field, "Use at least 8 characters for your password."));
    }
    if chars > limits::PASSWORD_MAX {
        return Err(AppError::validation(field, "Use at most 256 characters for your password."));
    }
    let estimate = zxcvbn::zxcvbn(password, user_inputs);
    if (estimate.score() as u8) < 3 {
        return Err(AppError::validation(
            field,
            "This password is too easy to guess. Try a longer phrase of unrelated words.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_follows_nist() {
        assert!(check_new_password("short", &[], "password").is_err());
        assert!(check_new_password("password", &[], "password").is_err());
        assert!(check_new_password("12345678", &[], "password").is_err());
        assert!(check_new_password("Lighthouse-Quartz-Maple-42", &[], "password").is_ok());
        // 64 characters must be accepted; over 256 is refused rather than truncated.
        let long = "correct horse battery staple lighthouse quartz maple 42 glacier!";
        assert_eq!(long.chars().count(), 64);
        assert!(check_new_password(long, &[], "password").is_ok());
        assert!(check_new_password(&"x7$".repeat(90), &[], "password").is_err());
    }

    #[test]
    fn policy_penalises_own_name_and_email() {
        assert!(check_new_password("alice.smith@example.com", &["alice.smith@example.com", "Alice Smith"], "password").is_err());
    }
}
