//! Device-bound sessions (DBSC) against real SQLite and PostgreSQL: a session registers once with
//! a challenge issued to it, then needs its short cookie; only a proof with its key renews that
//! cookie; refused proofs are in the security log; a password change keeps the binding.

mod common;

use app::model::{EventKind, SessionId};
use app::ssr::service::{BindError, RefreshStep};
use app::ssr::store::CHALLENGE_LIFETIME_MS;
use app::ssr::Resolved;
use common::*;

fn active(resolved: &Resolved) -> bool {
    matches!(resolved, Resolved::Active(_))
}

backend_tests! {
    async fn a_session_registers_once_and_then_needs_its_short_cookie(db) {
        let (svc, clock) = db.service().await;
        let login = sign_up(&svc, "Ada", "ada@example.com").await;
        let device = DbscKey::new();
        let challenge = svc.new_challenge(&login.session_id).await.unwrap();
        let bound = svc.bind_session(&device.registration(&challenge), Some(&login.session_id)).await.unwrap();
        assert_eq!(bound.session_id, login.session_id);
        assert_eq!(bound.max_age_secs, 600);

        // The session cookie alone no longer logs in, nor does it work as a bearer token.
        assert_eq!(svc.authenticate_browser(&login.token, None, false).await.unwrap(), Resolved::None);
        assert_eq!(svc.authenticate(&login.token, false).await.unwrap(), Resolved::None);
        assert_eq!(svc.authenticate_browser(&login.token, Some("forged"), false).await.unwrap(), Resolved::None);
        assert!(active(&svc.authenticate_browser(&login.token, Some(&bound.cookie), true).await.unwrap()));
        // The list says so.
        let me = match svc.authenticate_browser(&login.token, Some(&bound.cookie), false).await.unwrap() {
            Resolved::Active(me) => me,
            other => panic!("{other:?}"),
        };
        assert!(svc.list_sessions(&me).await.unwrap()[0].bound);

        // The short cookie lasts its lifetime, not a moment more: the window of a copied cookie.
        clock.advance_ms(10 * MINUTE - 1);
        assert!(active(&svc.authenticate_browser(&login.token, Some(&bound.cookie), false).await.unwrap()));
        clock.advance_ms(1);
        assert_eq!(svc.authenticate_browser(&login.token, Some(&bound.cookie), false).await.unwrap(), Resolved::None);

        // It registers once: a key of a thief's own cannot replace the device's.
        let thief = DbscKey::new();
        let again = svc.new_challenge(&login.session_id).await.unwrap();
        assert_eq!(
            svc.bind_session(&thief.registration(&again), Some(&login.session_id)).await.unwrap_err(),
            BindError::NotBindable
        );
    }

    async fn registration_challenges_are_single_use_fresh_and_the_logins_own(db) {
        let (svc, clock) = db.service().await;
        let ada = sign_up(&svc, "Ada", "ada@example.com").await;
        let other = log_in(&svc, "ada@example.com", false).await;
        let device = DbscKey::new();

        // Unknown challenge.
        assert_eq!(svc.bind_session(&device.registration("never-issued"), None).await.unwrap_err(), BindError::Challenge);
        // Stale.
        let stale = svc.new_challenge(&ada.session_id).await.unwrap();
        clock.advance_ms(CHALLENGE_LIFETIME_MS);
        assert_eq!(svc.bind_session(&device.registration(&stale), None).await.unwrap_err(), BindError::Challenge);
        // Issued to another session than the cookie's.
        let for_other = svc.new_challenge(&other.session_id).await.unwrap();
        assert_eq!(
            svc.bind_session(&device.registration(&for_other), Some(&ada.session_id)).await.unwrap_err(),
            BindError::NotBindable
        );
        // Malformed or wrongly signed proofs never reach the database.
        let fresh = svc.new_challenge(&ada.session_id).await.unwrap();
        let forged = DbscKey::new().sign(
            serde_json::json!({ "alg": "ES256", "typ": "dbsc+jwt", "jwk": device.jwk() }),
            serde_json::json!({ "jti": fresh }),
        );
        assert!(matches!(svc.bind_session(&forged, None).await.unwrap_err(), BindError::Proof(_)));
        assert!(matches!(svc.bind_session("not.a.jwt", None).await.unwrap_err(), BindError::Proof(_)));
        // The right proof binds; used once, the same challenge binds nothing again.
        let bound = svc.bind_session(&device.registration(&fresh), Some(&ada.session_id)).await.unwrap();
        assert_eq!(svc.bind_session(&device.registration(&fresh), None).await.unwrap_err(), BindError::Challenge);
        // An ended session cannot be bound.
        let me = current_bound_with(&svc, &ada.token, &bound.cookie).await;
        svc.end_session(&me, &client("203.0.113.1"), &other.session_id).await.unwrap();
        let late = svc.new_challenge(&other.session_id).await.unwrap();
        assert_eq!(svc.bind_session(&DbscKey::new().registration(&late), None).await.unwrap_err(), BindError::NotBindable);
    }

    async fn only_the_registered_key_refreshes_and_a_failed_proof_is_logged(db) {
        let (svc, clock) = db.service().await;
        let login = sign_up(&svc, "Ada", "ada@example.com").await;
        let device = DbscKey::new();
        let challenge = svc.new_challenge(&login.session_id).await.unwrap();
        let first = svc.bind_session(&device.registration(&challenge), None).await.unwrap();
        clock.advance_ms(11 * MINUTE);

        // A thief with the copied cookies asks for a challenge and signs with a key of his own.
        let RefreshStep::Challenge(c) = svc.refresh_step(&login.session_id).await.unwrap() else { panic!("a challenge") };
        let thief = DbscKey::new();
        let err = svc.refresh_binding(&login.session_id, &thief.refresh(&c), &client("198.51.100.66")).await.unwrap_err();
        assert!(matches!(err, BindError::Proof(_)), "{err:?}");
        // The device answers its own challenge: a new cookie; the old one is gone.
        let RefreshStep::Challenge(c) = svc.refresh_step(&login.session_id).await.unwrap() else { panic!("a challenge") };
        let renewed = svc.refresh_binding(&login.session_id, &device.refresh(&c), &client("203.0.113.1")).await.unwrap().unwrap();
        assert!(active(&svc.authenticate_browser(&login.token, Some(&renewed.cookie), false).await.unwrap()));
        assert_eq!(svc.authenticate_browser(&login.token, Some(&first.cookie), false).await.unwrap(), Resolved::None);
        // Refreshed ahead of time: requests still on their way with the cookie it replaced count
        // until that one's own expiry, never longer; a second refresh forgets it entirely.
        clock.advance_ms(5 * MINUTE);
        let RefreshStep::Challenge(c2) = svc.refresh_step(&login.session_id).await.unwrap() else { panic!("a challenge") };
        let third = svc.refresh_binding(&login.session_id, &device.refresh(&c2), &client("203.0.113.1")).await.unwrap().unwrap();
        assert!(active(&svc.authenticate_browser(&login.token, Some(&renewed.cookie), false).await.unwrap()));
        assert!(active(&svc.authenticate_browser(&login.token, Some(&third.cookie), false).await.unwrap()));
        clock.advance_ms(5 * MINUTE);
        assert_eq!(svc.authenticate_browser(&login.token, Some(&renewed.cookie), false).await.unwrap(), Resolved::None);
        assert!(active(&svc.authenticate_browser(&login.token, Some(&third.cookie), false).await.unwrap()));
        let RefreshStep::Challenge(c3) = svc.refresh_step(&login.session_id).await.unwrap() else { panic!("a challenge") };
        let fourth = svc.refresh_binding(&login.session_id, &device.refresh(&c3), &client("203.0.113.1")).await.unwrap().unwrap();
        assert!(active(&svc.authenticate_browser(&login.token, Some(&fourth.cookie), false).await.unwrap()));
        assert_eq!(svc.authenticate_browser(&login.token, Some(&renewed.cookie), false).await.unwrap(), Resolved::None);
        let renewed = fourth;

        // A used challenge cannot be replayed.
        let err = svc.refresh_binding(&login.session_id, &device.refresh(&c), &client("203.0.113.1")).await.unwrap_err();
        assert_eq!(err, BindError::Challenge);

        // The refused proofs are in the owner's log, with the address.
        let me = current_bound_with(&svc, &login.token, &renewed.cookie).await;
        let failed: Vec<_> = svc
            .activity(&me, Default::default(), 1)
            .await
            .unwrap()
            .events
            .into_iter()
            .filter(|e| e.kind == EventKind::DeviceCheckFailed)
            .collect();
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert!(failed.iter().any(|e| e.ip.as_deref() == Some("198.51.100.66")));
        assert_eq!(EventKind::DeviceCheckFailed.words(), "Device check failed");
    }

    async fn a_password_change_rotates_the_token_and_keeps_the_binding_and_an_end_terminates(db) {
        let (svc, _clock) = db.service().await;
        let login = sign_up(&svc, "Ada", "ada@example.com").await;
        let device = DbscKey::new();
        let challenge = svc.new_challenge(&login.session_id).await.unwrap();
        let bound = svc.bind_session(&device.registration(&challenge), None).await.unwrap();
        let me = current_bound_with(&svc, &login.token, &bound.cookie).await;
        let token = svc.change_password(&me, &client("203.0.113.1"), PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await.unwrap();
        assert_eq!(svc.authenticate_browser(&token, None, false).await.unwrap(), Resolved::None, "still bound");
        assert!(active(&svc.authenticate_browser(&token, Some(&bound.cookie), false).await.unwrap()));

        // Ended from elsewhere: the next refresh is told to stop.
        let me = current_bound_with(&svc, &token, &bound.cookie).await;
        svc.terminate_all(&me, &client("203.0.113.1")).await.unwrap();
        assert_eq!(svc.refresh_step(&login.session_id).await.unwrap(), RefreshStep::Terminate);
        assert!(svc.refresh_binding(&login.session_id, &device.refresh("x"), &client("203.0.113.1")).await.unwrap().is_none());
        // So is a session that never was bound, or never existed.
        assert_eq!(svc.refresh_step(&SessionId("nope".into())).await.unwrap(), RefreshStep::Terminate);
    }
}

async fn current_bound_with(svc: &app::ssr::AuthService, token: &str, cookie: &str) -> app::ssr::CurrentSession {
    match svc.authenticate_browser(token, Some(cookie), false).await.unwrap() {
        Resolved::Active(me) => me,
        other => panic!("expected an active session, got {other:?}"),
    }
}
