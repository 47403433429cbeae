//! Session tokens and public ids. A token is 256 random bits; the database keeps only its SHA-256.
//! A fast hash is right here: the token has full entropy, so there is nothing to brute-force.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Random bytes in a token (256 bits; ASVS asks for at least 128).
const TOKEN_BYTES: usize = 32;
/// Random bytes in a public session id (128 bits: unguessable, so ids leak nothing).
const ID_BYTES: usize = 16;

fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new secret token, handed to the client once and never stored.
pub fn new_token() -> String {
    random_b64(TOKEN_BYTES)
}

/// A new public session id, for the UI and API.
pub fn new_session_id() -> crate::model::SessionId {
    crate::model::SessionId(random_b64(ID_BYTES))
}

/// What the database stores in place of the token.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Tokens we hand out are 43 URL-safe base64 characters; anything else cannot be ours and is
/// rejected without a database round trip.
pub fn looks_like_token(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Public session ids we hand out are 22 URL-safe base64 characters; anything else names no
/// session (and never reaches the database: PostgreSQL refuses a NUL with an error).
pub fn looks_like_session_id(id: &str) -> bool {
    id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ten_thousand_tokens_are_unique_and_well_formed() {
        let tokens: HashSet<String> = (0..10_000).map(|_| new_token()).collect();
        assert_eq!(tokens.len(), 10_000);
        assert!(tokens.iter().all(|t| looks_like_token(t)));
    }

    #[test]
    fn hash_is_stable_and_not_the_token() {
        let t = new_token();
        assert_eq!(hash_token(&t), hash_token(&t));
        assert_eq!(hash_token(&t).len(), 32);
        assert_ne!(hash_token(&t), t.as_bytes());
        assert_ne!(hash_token(&t), hash_token(&new_token()));
    }

    #[test]
    fn rejects_foreign_token_shapes() {
        assert!(!looks_like_token(""));
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&"a".repeat(44)));
        assert!(!looks_like_token(&format!("{}=", "a".repeat(42))));
    }

    #[test]
    fn session_ids_are_unique() {
        let ids: HashSet<crate::model::SessionId> = (0..10_000).map(|_| new_session_id()).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
