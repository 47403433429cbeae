//! What a new password must be (NIST 800-63B): a minimum length, a generous maximum that is never
//! truncated, and a check against easily guessed passwords instead of composition rules. The
//! guessability check is zxcvbn's (its dictionaries hold the common-password lists and it also
//! penalises the user's own name and e-mail). It is CPU-heavy, so the pool runs it on the hashing
//! threads ([`PasswordHasherPool::check_new_password`](super::PasswordHasherPool::check_new_password)).

use crate::model::{limits, AppError};

/// How much of a password the strength estimate sees. zxcvbn's cost grows steeply with length: it
/// stops at 100 characters by itself, and there one estimate of random punctuation, digits and
/// l33t characters still took up to 1.2 s of CPU (release build); at 32 the worst we found took
/// ~50 ms, about one argon2 hash. The verdict needs no more: the policy asks for score 3 (10^8
/// guesses), which 32 characters exceed many times over unless they are words of a dictionary or a
/// pattern, and on the passphrases we tried the 32-character verdict was the 100-character one. A
/// password whose first 32 characters are guessable is refused however strong the rest.
pub const ESTIMATOR_PREFIX_CHARS: usize = 32;

/// The part of `password` the strength estimate is given: its first [`ESTIMATOR_PREFIX_CHARS`]
/// characters.
pub fn estimator_input(password: &str) -> &str {
    match password.char_indices().nth(ESTIMATOR_PREFIX_CHARS) {
        Some((end, _)) => &password[..end],
        None => password,
    }
}

/// The cheap part of the policy: 8 to 256 characters.
pub(super) fn check_length(password: &str, field: &str) -> Result<(), AppError> {
    let chars = password.chars().count();
    if chars < limits::PASSWORD_MIN {
        return Err(AppError::validation(
            field,
            format!("Use at least {} characters for your password.", limits::PASSWORD_MIN),
        ));
    }
    if chars > limits::PASSWORD_MAX {
        return Err(AppError::validation(
            field,
            format!("Use at most {} characters for your password.", limits::PASSWORD_MAX),
        ));
    }
    Ok(())
}

/// The expensive part: zxcvbn's estimate of [`estimator_input`]. Never call it on an async worker.
pub(super) fn check_guessability(password: &str, user_inputs: &[&str], field: &str) -> Result<(), AppError> {
    let estimate = zxcvbn::zxcvbn(estimator_input(password), user_inputs);
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

    fn check_new_password(password: &str, user_inputs: &[&str], field: &str) -> Result<(), AppError> {
        check_length(password, field)?;
        check_guessability(password, user_inputs, field)
    }

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
        assert!(check_new_password("alice.smith@example.com", &["alice.smith@example.com", "Alice Smith"], "password")
            .is_err());
    }

    #[test]
    fn the_estimator_sees_at_most_its_prefix_counted_in_characters() {
        assert_eq!(estimator_input("Lighthouse-Quartz-Maple-42"), "Lighthouse-Quartz-Maple-42");
        let exact = "k".repeat(ESTIMATOR_PREFIX_CHARS);
        assert_eq!(estimator_input(&exact), exact);
        // Multi-byte characters: cut on a character boundary, after as many characters.
        let long = "é".repeat(256);
        assert_eq!(estimator_input(&long).chars().count(), ESTIMATOR_PREFIX_CHARS);
        assert!(long.starts_with(estimator_input(&long)));
        assert_eq!(estimator_input(&"x".repeat(256)).len(), ESTIMATOR_PREFIX_CHARS);
    }

    #[test]
    fn a_long_password_is_judged_by_its_prefix_alone() {
        // Guessable for the prefix, strong after it: refused, although zxcvbn given the whole
        // (it looks at 100 characters itself) would call it strong.
        let weak = "password".repeat(ESTIMATOR_PREFIX_CHARS / 8);
        assert_eq!(weak.chars().count(), ESTIMATOR_PREFIX_CHARS);
        let tail = " kq3v!Zr8 lighthouse quartz maple glacier 42 ";
        let password: String = weak.chars().chain(tail.chars().cycle()).take(limits::PASSWORD_MAX).collect();
        assert_eq!(password.chars().count(), 256);
        assert!(zxcvbn::zxcvbn(&password, &[]).score() as u8 >= 3, "the whole password should look strong");
        assert!(check_new_password(&password, &[], "password").is_err());
        // And the other way round: a strong prefix carries a guessable tail.
        let strong_first: String =
            tail.chars().cycle().take(ESTIMATOR_PREFIX_CHARS).chain("a".repeat(200).chars()).collect();
        assert!(check_new_password(&strong_first, &[], "password").is_ok());
    }
}
