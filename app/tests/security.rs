//! Regression tests of the security review (issue 11) that concern the service and the store,
//! on SQLite and on PostgreSQL: logins in flight around credential changes, look-alike input.

#[macro_use]
mod common;

use app::model::{AccountId, AppError, SessionKind};
use app::ssr::store::{Event, EventKind, NewSession, StoreError};
use app::ssr::token;
use app::ssr::ThrottlePolicy;
use common::*;

/// A session as a login would create it once it verified the password against `version`.
fn session_for(account_id: AccountId, credentials_version: i64) -> NewSession {
    let token = token::new_token();
    NewSession {
        id: token::new_session_id(),
        token_hash: token::hash_token(&token),
        account_id,
        kind: SessionKind::Browser,
        auto_login: false,
        device_name: None,
        ip: "192.0.2.1".into(),
        location: None,
        user_agent: "test".into(),
        now: T0,
        idle_expires_at: T0 + HOUR,
        expires_at: T0 + HOUR,
        credentials_version,
        device_hash: None,
        announce_if_new: false,
        device_label: String::new(),
    }
}

backend_tests! {
    async fn a_login_verified_before_a_credential_change_creates_no_session_after_it(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let me = current(&svc, &web.token).await;
        let event = |id| Event::new(EventKind::LoginSucceeded, Some(id), T0);
        // Each of these changes, committed between a login's password check and its session,
        // makes the login fail.
        for change in ["password", "auto-login reset", "terminate all"] {
            let me = current(&svc, &svc.log_in(&browser_login("ada@example.com", if change == "password" { PASSWORD } else { NEW_PASSWORD }, false), &client("192.0.2.9")).await.unwrap().token).await;
            let read = svc.store.account_by_email("ada@example.com").await.unwrap().unwrap();
            svc.store.create_session(&session_for(me.account_id, read.credentials_version), 100, &event(me.account_id)).await.expect("nothing changed yet");
            match change {
                "password" => drop(svc.change_password(&me, &client("192.0.2.9"), PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await.unwrap()),
                "auto-login reset" => drop(svc.reset_auto_login(&me, &client("192.0.2.9"), NEW_PASSWORD).await.unwrap()),
                _ => drop(svc.terminate_all(&me, &client("192.0.2.9")).await.unwrap()),
            }
            let late = svc.store.create_session(&session_for(me.account_id, read.credentials_version), 100, &event(me.account_id)).await;
            assert!(matches!(late, Err(StoreError::CredentialsChanged)), "{change}: {late:?}");
            assert_eq!(AppError::from(StoreError::CredentialsChanged), AppError::InvalidCredentials);
        }
        drop(me);
    }

    async fn many_logins_in_flight_around_a_password_change_leave_no_old_password_session_alive(db) {
        let (svc, _clock) = db.service().await;
        // Generous counters: this is about the race, not the throttle.
        let svc = svc.with_throttle(ThrottlePolicy { account_free: 10_000, ip_free: 10_000, ..ThrottlePolicy::default() });
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let me = current(&svc, &web.token).await;
        let mut logins = Vec::new();
        for i in 0..32 {
            let svc = svc.clone();
            logins.push(tokio::spawn(async move {
                let device = if i % 2 == 0 { app_login("ada@example.com", PASSWORD, "Pixel 8") } else { browser_login("ada@example.com", PASSWORD, true) };
                svc.log_in(&device, &client(&format!("198.51.100.{i}"))).await
            }));
        }
        // The change lands while the logins are queued for, or inside, their hashing slots.
        tokio::task::yield_now().await;
        let kept = svc.change_password(&me, &client("192.0.2.1"), PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await.expect("change");
        let mut answered = 0;
        for login in logins {
            match login.await.unwrap() {
                Ok(login) => {
                    answered += 1;
                    assert!(!matches!(peek(&svc, &login.token).await, app::ssr::Resolved::Active(_)), "a session made with the old password survived the change");
                }
                Err(err) => assert_eq!(err, AppError::InvalidCredentials),
            }
        }
        eprintln!("{answered} of 32 old-password logins succeeded before the change and were ended by it");
        assert!(matches!(peek(&svc, &kept).await, app::ssr::Resolved::Active(_)));
        svc.log_in(&browser_login("ada@example.com", NEW_PASSWORD, false), &client("192.0.2.1")).await.expect("the new password works");
    }

    async fn look_alike_addresses_are_one_account(db) {
        let (svc, _clock) = db.service().await;
        // "José" typed with a combining accent and with a precomposed é is the same address.
        svc.sign_up("José", "jose\u{301}@example.com", PASSWORD, PASSWORD, &client("192.0.2.1")).await.expect("sign up");
        svc.log_in(&browser_login("JOS\u{c9}@example.com", PASSWORD, false), &client("192.0.2.1")).await.expect("log in precomposed");
        let taken = svc.sign_up("José", "jos\u{e9}@example.com", PASSWORD, PASSWORD, &client("192.0.2.2")).await.unwrap_err();
        assert_eq!(taken.field(), Some("email"));
        let bidi = svc.sign_up("Mallory\u{202E}", "mallory@example.com", PASSWORD, PASSWORD, &client("192.0.2.2")).await.unwrap_err();
        assert_eq!(bidi.field(), Some("name"));
        let app = svc.log_in(&app_login("jose@example.com", PASSWORD, "Pixel\u{7} 8"), &client("192.0.2.3")).await.unwrap_err();
        assert_eq!(app.field(), Some("device_name"));
    }
}

mod typed_domain {
    use super::*;
    use app::model::EndReason;

    backend_tests! {
        async fn an_end_reason_this_build_does_not_know_still_means_ended(db) {
            let (svc, _clock) = db.service().await;
            let web = sign_up(&svc, "Ada", "ada@example.com").await;
            // A newer instance wrote a reason this one has never heard of.
            svc.store.execute_raw("UPDATE sessions SET ended_at = 1, end_reason = 'quantum_eviction'").await.unwrap();
            assert_eq!(peek(&svc, &web.token).await, app::ssr::Resolved::Ended(EndReason::Other));
            let status = svc.status(Some(&web.token), None).await.unwrap();
            assert_eq!(serde_json::to_value(&status).unwrap(), serde_json::json!({ "state": "ended", "reason": "other" }));
        }
    }

    #[test]
    fn end_reasons_and_event_kinds_read_unknown_words_as_other() {
        assert_eq!(serde_json::from_str::<EndReason>("\"password_changed\"").unwrap(), EndReason::PasswordChanged);
        assert_eq!(serde_json::from_str::<EndReason>("\"quantum_eviction\"").unwrap(), EndReason::Other);
        assert_eq!(serde_json::to_string(&EndReason::SessionLimit).unwrap(), "\"session_limit\"");
        assert_eq!(app::model::EventKind::parse("something_new"), app::model::EventKind::Other);
        for reason in EndReason::ALL {
            assert_eq!(EndReason::parse(reason.as_str()), reason);
        }
    }
}
