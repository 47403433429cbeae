//! Device Bound Session Credentials (W3C WebAppSec DBSC): the browser's proofs of possession.
//!
//! A proof is a JWS (compact serialisation) with the header `{"alg":"ES256","typ":"dbsc+jwt"}`
//! (at registration also the public key as a JWK) and the payload `{"jti": challenge}`. The
//! signature check is ring's ECDSA P-256 / SHA-256 verification over the JWS signing input, with
//! the fixed-width r‖s signature that JWS uses; this module only takes the token apart and says
//! which key and challenge it names. Nothing else is accepted: no other algorithm, no `none`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use serde::Deserialize;

/// Why a proof is refused. Each is a client's fault: the answer is the same refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the proof is not a JWT")]
    Malformed,
    #[error("the proof is not a DBSC proof (typ dbsc+jwt)")]
    WrongType,
    #[error("the proof is not signed with ES256")]
    WrongAlgorithm,
    #[error("the proof's key is not a P-256 public key")]
    BadKey,
    #[error("the proof's signature does not verify")]
    BadSignature,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    jwk: Option<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    crv: String,
    x: String,
    y: String,
}

#[derive(Deserialize)]
struct Claims {
    jti: String,
}

/// A verified proof: the challenge it answers, and the key it was signed with (SEC1 uncompressed
/// P-256, 65 bytes: what a session stores when it registers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    pub challenge: String,
    pub key: Vec<u8>,
}

/// Header values may come as a bare token or as a structured-field string in quotes.
pub fn unquote(value: &str) -> &str {
    let value = value.trim();
    value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value)
}

/// A registration proof: signed with the key in its own header.
pub fn verify_registration(jwt: &str) -> Result<Proof, ProofError> {
    verify(jwt, None)
}

/// A refresh proof: signed with the key the session registered.
pub fn verify_refresh(jwt: &str, registered_key: &[u8]) -> Result<Proof, ProofError> {
    verify(jwt, Some(registered_key))
}

fn verify(jwt: &str, registered_key: Option<&[u8]>) -> Result<Proof, ProofError> {
    let jwt = unquote(jwt);
    let mut parts = jwt.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed);
    };
    let header: Header = decode_json(header_b64)?;
    if header.typ.as_deref() != Some("dbsc+jwt") {
        return Err(ProofError::WrongType);
    }
    if header.alg != "ES256" {
        return Err(ProofError::WrongAlgorithm);
    }
    let key = match registered_key {
        Some(key) => key.to_vec(),
        None => sec1_point(header.jwk.as_ref().ok_or(ProofError::BadKey)?)?,
    };
    let signature = B64.decode(signature_b64).map_err(|_| ProofError::Malformed)?;
    let signing_input = &jwt[..header_b64.len() + 1 + payload_b64.len()];
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key)
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| ProofError::BadSignature)?;
    let claims: Claims = decode_json(payload_b64)?;
    Ok(Proof { challenge: claims.jti, key })
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, ProofError> {
    let bytes = B64.decode(part).map_err(|_| ProofError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| ProofError::Malformed)
}

/// The JWK as an uncompressed SEC1 point. Coordinates shorter than 32 bytes are left-padded
/// (some Chromium versions dropped leading zeros); whether the point is on the curve is ring's
/// check, at verification.
fn sec1_point(jwk: &Jwk) -> Result<Vec<u8>, ProofError> {
    if jwk.kty != "EC" || jwk.crv != "P-256" {
        return Err(ProofError::BadKey);
    }
    let mut point = vec![0x04];
    for coordinate in [&jwk.x, &jwk.y] {
        let bytes = B64.decode(coordinate).map_err(|_| ProofError::BadKey)?;
        if bytes.is_empty() || bytes.len() > 32 {
            return Err(ProofError::BadKey);
        }
        point.extend(std::iter::repeat_n(0, 32 - bytes.len()));
        point.extend(bytes);
    }
    Ok(point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::testing::DbscKey as Device;

    #[test]
    fn a_registration_proof_names_its_challenge_and_key() {
        let device = Device::new();
        let proof = verify_registration(&device.registration("c-123")).unwrap();
        assert_eq!(proof.challenge, "c-123");
        assert_eq!(proof.key, device.public());
        // Chromium may send the token quoted as a structured-field string.
        assert!(verify_registration(&format!("\"{}\"", device.registration("c"))).is_ok());
    }

    #[test]
    fn a_refresh_proof_verifies_only_against_the_registered_key() {
        let device = Device::new();
        let thief = Device::new();
        assert_eq!(verify_refresh(&device.refresh("c-9"), &device.public()).unwrap().challenge, "c-9");
        assert_eq!(verify_refresh(&thief.refresh("c-9"), &device.public()), Err(ProofError::BadSignature));
        // A key of the thief's own in the header changes nothing on refresh.
        assert_eq!(verify_refresh(&thief.registration("c-9"), &device.public()), Err(ProofError::BadSignature));
    }

    #[test]
    fn a_proof_signed_by_another_key_than_its_header_names_is_refused() {
        let (device, other) = (Device::new(), Device::new());
        let header = serde_json::json!({ "alg": "ES256", "typ": "dbsc+jwt", "jwk": device.jwk() });
        let forged = other.sign(header, serde_json::json!({ "jti": "c" }));
        assert_eq!(verify_registration(&forged), Err(ProofError::BadSignature));
    }

    #[test]
    fn other_algorithms_types_and_shapes_are_refused() {
        let device = Device::new();
        let jwk = device.jwk();
        let none = format!(
            "{}.{}.",
            B64.encode(serde_json::json!({ "alg": "none", "typ": "dbsc+jwt", "jwk": jwk }).to_string()),
            B64.encode(r#"{"jti":"c"}"#)
        );
        assert_eq!(verify_registration(&none), Err(ProofError::WrongAlgorithm));
        let hs256 = device.sign(
            serde_json::json!({ "alg": "HS256", "typ": "dbsc+jwt", "jwk": jwk }),
            serde_json::json!({ "jti": "c" }),
        );
        assert_eq!(verify_registration(&hs256), Err(ProofError::WrongAlgorithm));
        let plain_jwt = device
            .sign(serde_json::json!({ "alg": "ES256", "typ": "JWT", "jwk": jwk }), serde_json::json!({ "jti": "c" }));
        assert_eq!(verify_registration(&plain_jwt), Err(ProofError::WrongType));
        for malformed in ["", "a.b", "a.b.c.d", "!!!.???.***", "e30.e30.e30"] {
            assert!(verify_registration(malformed).is_err(), "{malformed:?}");
        }
    }

    #[test]
    fn keys_that_are_not_p256_points_are_refused() {
        let device = Device::new();
        let mut jwk = device.jwk();
        jwk["crv"] = "P-384".into();
        let wrong_curve = device.sign(
            serde_json::json!({ "alg": "ES256", "typ": "dbsc+jwt", "jwk": jwk }),
            serde_json::json!({ "jti": "c" }),
        );
        assert_eq!(verify_registration(&wrong_curve), Err(ProofError::BadKey));
        let mut jwk = device.jwk();
        jwk["x"] = B64.encode([1u8; 32]).into();
        let off_curve = device.sign(
            serde_json::json!({ "alg": "ES256", "typ": "dbsc+jwt", "jwk": jwk }),
            serde_json::json!({ "jti": "c" }),
        );
        assert_eq!(
            verify_registration(&off_curve),
            Err(ProofError::BadSignature),
            "ring refuses a point off the curve"
        );
        let missing =
            device.sign(serde_json::json!({ "alg": "ES256", "typ": "dbsc+jwt" }), serde_json::json!({ "jti": "c" }));
        assert_eq!(verify_registration(&missing), Err(ProofError::BadKey), "a registration carries its key");
    }

    #[test]
    fn a_tampered_payload_breaks_the_signature() {
        let device = Device::new();
        let proof = device.registration("mine");
        let parts: Vec<&str> = proof.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], B64.encode(r#"{"jti":"yours"}"#), parts[2]);
        assert_eq!(verify_registration(&tampered), Err(ProofError::BadSignature));
    }
}
