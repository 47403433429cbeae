//! The store and the authentication service against real databases: every test runs once on
//! SQLite and once on PostgreSQL (see `common::backend_tests!`). Time is a `ManualClock`, so
//! expiry is tested to the millisecond without sleeping.

#[macro_use]
mod common;

use app::model::{AppError, EndReason, SessionId, SessionKind, SessionStatus};
use app::ssr::{Resolved, SessionPolicy};
use common::*;
use std::collections::HashSet;

/// A short policy so that expiry loops stay short: 10 minutes idle, 1 hour at most; remembered
/// logins 1 day idle, 7 days at most.
fn short_policy() -> SessionPolicy {
    SessionPolicy {
        idle_ms: 10 * MINUTE,
        max_age_ms: HOUR,
        remembered_idle_ms: DAY,
        remembered_max_age_ms: 7 * DAY,
        retention_ms: DAY,
        known_device_retention_ms: 30 * DAY,
        max_active: 100,
        activity_write_interval_ms: MINUTE,
        bound_cookie_ms: 10 * MINUTE,
    }
}

fn validation_field(err: &AppError) -> &str {
    match err {
        AppError::Validation { field, .. } => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

backend_tests! {
    // ---- sign-up -------------------------------------------------------------------------------

    async fn sign_up_creates_an_account_and_a_session(db) {
        let (svc, _clock) = db.service().await;
        let login = svc.sign_up(" Ada Lovelace ", " Ada@Example.COM ", PASSWORD, PASSWORD, &client("203.0.113.1")).await.unwrap();
        assert!(!login.auto_login, "a sign-up session is not remembered");

        let account = svc.store.account_by_email("ada@example.com").await.unwrap().expect("account stored");
        assert_eq!(account.name, "Ada Lovelace");
        assert_ne!(account.password_hash, PASSWORD);
        assert!(account.password_hash.starts_with("$argon2id$"));

        let s = current(&svc, &login.token).await;
        assert_eq!(s.account_id, account.id);
        assert_eq!(s.session_id, login.session_id);
        assert_eq!(s.email, "ada@example.com");
        assert_eq!(s.kind, SessionKind::Browser);
        let list = svc.list_sessions(&s).await.unwrap();
        assert_eq!(list.len(), 1);
        assert!(list[0].current);
    }

    async fn sign_up_refuses_an_email_that_is_taken_in_any_case_or_spacing(db) {
        let (svc, _clock) = db.service().await;
        sign_up(&svc, "Ada", "ada@example.com").await;
        for taken in ["ada@example.com", "ADA@EXAMPLE.COM", "  Ada@Example.com\t"] {
            let err = svc.sign_up("Impostor", taken, NEW_PASSWORD, NEW_PASSWORD, &client("192.0.2.9")).await.unwrap_err();
            assert_eq!(validation_field(&err), "email", "{taken:?}: {err:?}");
        }
        // The first account is untouched: its password still works, the impostor's does not.
        log_in(&svc, "ada@example.com", false).await;
        let err = svc.log_in(&browser_login("ada@example.com", NEW_PASSWORD, false), &client("192.0.2.9")).await.unwrap_err();
        assert_eq!(err, AppError::InvalidCredentials);
    }

    async fn sign_up_refuses_a_weak_password_and_creates_no_account(db) {
        let (svc, _clock) = db.service().await;
        for weak in ["short", "password", "12345678", "bob@example.com"] {
            let err = svc.sign_up("Bob", "bob@example.com", weak, weak, &client("192.0.2.1")).await.unwrap_err();
            assert_eq!(validation_field(&err), "password", "{weak:?}");
        }
        let err = svc.sign_up("Bob", "bob@example.com", PASSWORD, NEW_PASSWORD, &client("192.0.2.1")).await.unwrap_err();
        assert_eq!(validation_field(&err), "repeat_password");
        assert!(svc.store.account_by_email("bob@example.com").await.unwrap().is_none());
        assert!(svc.store.dump_sessions_text().await.unwrap().is_empty(), "no session was created");
    }

    // ---- login ---------------------------------------------------------------------------------

    async fn a_wrong_password_and_an_unknown_email_fail_the_same_way(db) {
        let (svc, _clock) = db.service().await;
        sign_up(&svc, "Ada", "ada@example.com").await;
        let wrong = svc.log_in(&browser_login("ada@example.com", "Not-The-Password-99", false), &client("192.0.2.1")).await.unwrap_err();
        let unknown = svc.log_in(&browser_login("nobody@example.com", PASSWORD, false), &client("192.0.2.1")).await.unwrap_err();
        assert_eq!(wrong, AppError::InvalidCredentials);
        assert_eq!(unknown, AppError::InvalidCredentials);
        assert_eq!(wrong.to_string(), unknown.to_string());
        // The password is case-sensitive; the e-mail is not.
        let err = svc.log_in(&browser_login("ada@example.com", &PASSWORD.to_lowercase(), false), &client("192.0.2.1")).await.unwrap_err();
        assert_eq!(err, AppError::InvalidCredentials);
        log_in(&svc, "  ADA@example.com ", false).await;
        assert_eq!(svc.store.dump_sessions_text().await.unwrap().len(), 2, "only the sign-up and the good login made sessions");
    }

    async fn every_login_gets_a_fresh_token_and_session(db) {
        let (svc, _clock) = db.service().await;
        let first = sign_up(&svc, "Ada", "ada@example.com").await;
        let mut tokens = HashSet::from([first.token.clone()]);
        let mut ids = HashSet::from([first.session_id.clone()]);
        for _ in 0..5 {
            let login = log_in(&svc, "ada@example.com", false).await;
            assert!(tokens.insert(login.token.clone()), "a token was reused");
            assert!(ids.insert(login.session_id.clone()), "a session id was reused");
        }
        // No fixation: the earlier sessions are separate and still valid; each token is its own.
        assert_eq!(current(&svc, &first.token).await.session_id, first.session_id);
        assert!(ids.iter().all(|id| !tokens.contains(id.as_str())), "a session id is never a token");
    }

    async fn tokens_are_never_stored_only_their_hashes(db) {
        let (svc, _clock) = db.service().await;
        let mut tokens = vec![sign_up(&svc, "Ada", "ada@example.com").await.token];
        tokens.push(log_in(&svc, "ada@example.com", true).await.token);
        tokens.push(log_in_app(&svc, "ada@example.com", "Pixel 8").await.token);
        let me = current(&svc, &tokens[0]).await;
        tokens.push(svc.change_password(&me, &client("192.0.2.1"), PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await.unwrap());
        let me = current(&svc, tokens.last().unwrap()).await;
        tokens.push(svc.reset_auto_login(&me, &client("192.0.2.1"), NEW_PASSWORD).await.unwrap());

        let dump = svc.store.dump_sessions_text().await.unwrap();
        assert_eq!(dump.len(), 3);
        for token in &tokens {
            for row in &dump {
                assert!(!row.contains(token.as_str()), "raw token stored: {row}");
            }
        }
        for event in svc.store.events(me.account_id).await.unwrap() {
            let text = format!("{event:?}");
            for token in &tokens {
                assert!(!text.contains(token.as_str()), "token in event {text}");
            }
        }
    }

    // ---- listing -------------------------------------------------------------------------------

    async fn the_session_list_shows_only_the_callers_active_sessions_current_first(db) {
        let (svc, clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        clock.advance_ms(MINUTE);
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        clock.advance_ms(MINUTE);
        let gone = log_in(&svc, "ada@example.com", false).await;
        svc.log_out(&current(&svc, &gone.token).await, &client("203.0.113.2")).await.unwrap();
        clock.advance_ms(MINUTE);
        let bob = sign_up(&svc, "Bob", "bob@example.com").await;
        clock.advance_ms(MINUTE);
        // Phone is more recently active than web, but web is the caller: it comes first.
        let me = current(&svc, &web.token).await;
        let list = svc.list_sessions(&me).await.unwrap();
        let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, [web.session_id.as_str(), phone.session_id.as_str()]);
        assert!(list[0].current && !list[1].current);

        assert_eq!(list[0].kind, SessionKind::Browser);
        assert_eq!(list[0].device, "Chrome on Linux");
        assert_eq!(list[0].ip, "203.0.113.1");
        assert!(!list[0].auto_login);
        assert_eq!(list[0].created_at, T0);
        assert_eq!(list[1].kind, SessionKind::App);
        assert_eq!(list[1].device, "Mail app on Pixel 8");
        assert_eq!(list[1].ip, "198.51.100.7");
        assert!(list[1].auto_login, "the mail app stays logged in");
        assert_eq!(list[1].created_at, T0 + MINUTE);

        let secrets = [&web.token, &phone.token, &gone.token, &bob.token];
        for view in &list {
            assert_ne!(view.id, bob.session_id);
            let text = serde_json::to_string(view).unwrap();
            for secret in secrets {
                assert!(!text.contains(secret.as_str()), "a token shows in {text}");
            }
        }
        // From the phone's point of view the order flips.
        let list = svc.list_sessions(&current(&svc, &phone.token).await).await.unwrap();
        assert_eq!(list[0].id, phone.session_id);
        assert!(list[0].current);
        assert_eq!(list.len(), 2);
    }

    async fn the_session_list_leaves_out_sessions_that_ran_out(db) {
        let (svc, clock) = db.service_with(short_policy()).await;
        sign_up(&svc, "Ada", "ada@example.com").await;
        let remembered = log_in(&svc, "ada@example.com", true).await;
        clock.advance_ms(10 * MINUTE);
        // Nobody has looked at the first session since; it ran out all the same.
        let list = svc.list_sessions(&current(&svc, &remembered.token).await).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, remembered.session_id);
    }

    // ---- ending sessions -----------------------------------------------------------------------

    async fn an_ended_session_fails_on_its_very_next_request(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        let me = current(&svc, &web.token).await;
        svc.end_session(&me, &client("203.0.113.1"), &phone.session_id).await.unwrap();
        assert_eq!(svc.authenticate(&phone.token, true).await.unwrap(), Resolved::Ended(EndReason::EndedByUser));
        assert_eq!(svc.status(Some(&phone.token), None).await.unwrap(), SessionStatus::Ended { reason: EndReason::EndedByUser });
        assert_eq!(
            peek(&svc, &phone.token).await.require().unwrap_err(),
            AppError::SessionEnded { reason: EndReason::EndedByUser }
        );
        // The caller's own session carries on, and the list no longer shows the phone.
        let list = svc.list_sessions(&current(&svc, &web.token).await).await.unwrap();
        assert_eq!(list.len(), 1);
    }

    async fn lookups_asked_at_once_each_get_their_own_session_and_see_ends_before_them(db) {
        // On SQLite the lookups that are ready together share one read transaction: each must
        // still get its own row, and see every end committed before it was asked for.
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let mut phones = Vec::new();
        for n in 0..6 {
            phones.push(log_in_app(&svc, "ada@example.com", &format!("Phone {n}")).await);
        }
        let me = current(&svc, &web.token).await;
        let mut ended = HashSet::new();
        for n in [0, 2, 4] {
            svc.end_session(&me, &client("203.0.113.1"), &phones[n].session_id).await.unwrap();
            ended.insert(n);
        }
        for round in 0..20 {
            let asked: Vec<_> = phones
                .iter()
                .enumerate()
                .map(|(n, phone)| {
                    let (svc, token, id) = (svc.clone(), phone.token.clone(), phone.session_id.clone());
                    tokio::spawn(async move { (n, id, svc.authenticate(&token, false).await.unwrap()) })
                })
                .collect();
            let unknown = tokio::spawn({
                let svc = svc.clone();
                async move { peek(&svc, &"x".repeat(43)).await }
            });
            for answer in asked {
                let (n, id, resolved) = answer.await.unwrap();
                match resolved {
                    Resolved::Active(s) => assert!(!ended.contains(&n) && s.session_id == id, "round {round}: phone {n}"),
                    Resolved::Ended(reason) => {
                        assert!(ended.contains(&n) && reason == EndReason::EndedByUser, "round {round}: phone {n}")
                    }
                    Resolved::None => panic!("round {round}: phone {n} not found"),
                }
            }
            assert_eq!(unknown.await.unwrap(), Resolved::None, "round {round}: an unknown token");
            // An end between two rounds is seen by every lookup of the next.
            if round == 9 {
                svc.end_session(&me, &client("203.0.113.1"), &phones[1].session_id).await.unwrap();
                ended.insert(1);
            }
        }
    }

    async fn a_session_ended_by_another_instance_fails_there_and_here_on_the_next_request(db) {
        // Two services on one database stand for two server instances (or, on SQLite, for the
        // direct read path and another process's writes): nothing is cached anywhere.
        let (here, _clock) = db.service().await;
        let (there, _clock2) = db.service().await;
        let web = sign_up(&here, "Ada", "ada@example.com").await;
        let phone = log_in_app(&here, "ada@example.com", "Pixel 8").await;
        assert!(matches!(there.authenticate(&phone.token, false).await.unwrap(), Resolved::Active(_)));
        assert_eq!(there.list_sessions(&current(&there, &web.token).await).await.unwrap().len(), 2);
        let me = current(&there, &web.token).await;
        there.end_session(&me, &client("203.0.113.1"), &phone.session_id).await.unwrap();
        assert_eq!(here.authenticate(&phone.token, false).await.unwrap(), Resolved::Ended(EndReason::EndedByUser));
        assert_eq!(here.list_sessions(&current(&here, &web.token).await).await.unwrap().len(), 1);
    }

    async fn ending_the_current_session_this_way_is_a_conflict(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let me = current(&svc, &web.token).await;
        let err = svc.end_session(&me, &client("203.0.113.1"), &me.session_id).await.unwrap_err();
        assert!(matches!(err, AppError::Conflict { .. }), "{err:?}");
        assert_eq!(err.status(), 409);
        current(&svc, &web.token).await;
    }

    async fn another_accounts_session_cannot_be_ended_and_is_reported_not_found(db) {
        let (svc, _clock) = db.service().await;
        let ada = sign_up(&svc, "Ada", "ada@example.com").await;
        let bob = sign_up(&svc, "Bob", "bob@example.com").await;
        let me = current(&svc, &ada.token).await;
        let err = svc.end_session(&me, &client("203.0.113.1"), &bob.session_id).await.unwrap_err();
        assert_eq!(err, AppError::NotFound);
        assert_eq!(current(&svc, &bob.token).await.session_id, bob.session_id, "Bob's session survives");
        // Even one of Bob's that has ended looks exactly like one that never existed.
        let bob2 = log_in(&svc, "bob@example.com", false).await;
        svc.log_out(&current(&svc, &bob2.token).await, &client("192.0.2.2")).await.unwrap();
        assert_eq!(svc.end_session(&me, &client("203.0.113.1"), &bob2.session_id).await.unwrap_err(), AppError::NotFound);
    }

    async fn ending_a_session_that_never_existed_is_not_found(db) {
        let (svc, _clock) = db.service().await;
        let ada = sign_up(&svc, "Ada", "ada@example.com").await;
        let me = current(&svc, &ada.token).await;
        let too_long = "x".repeat(65);
        for id in ["AAAAAAAAAAAAAAAAAAAAAA", "", too_long.as_str(), "' OR 1=1 --"] {
            assert_eq!(svc.end_session(&me, &client("203.0.113.1"), &SessionId(id.to_string())).await.unwrap_err(), AppError::NotFound, "{id:?}");
        }
        // The token is not an id either.
        assert_eq!(svc.end_session(&me, &client("203.0.113.1"), &SessionId(ada.token.clone())).await.unwrap_err(), AppError::NotFound);
        current(&svc, &ada.token).await;
    }

    async fn ending_an_own_session_that_already_ended_succeeds(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let other = log_in(&svc, "ada@example.com", false).await;
        let me = current(&svc, &web.token).await;
        svc.end_session(&me, &client("203.0.113.1"), &other.session_id).await.unwrap();
        svc.end_session(&me, &client("203.0.113.1"), &other.session_id).await.unwrap();
        // The reason stays the first one.
        assert_eq!(peek(&svc, &other.token).await, Resolved::Ended(EndReason::EndedByUser));
        // Logged out elsewhere, then ended here: still fine, and still "logged out".
        let third = log_in(&svc, "ada@example.com", false).await;
        svc.log_out(&current(&svc, &third.token).await, &client("203.0.113.2")).await.unwrap();
        svc.end_session(&me, &client("203.0.113.1"), &third.session_id).await.unwrap();
        assert_eq!(peek(&svc, &third.token).await, Resolved::Ended(EndReason::LoggedOut));
    }

    async fn ends_asked_at_once_each_get_their_own_outcome(db) {
        // On SQLite the ends that wait for the write turn together are committed as one group:
        // each must still be answered for itself, and each ended session logged once.
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let bob = sign_up(&svc, "Bob", "bob@example.com").await;
        let mut others = Vec::new();
        for _ in 0..12 {
            others.push(log_in(&svc, "ada@example.com", false).await);
        }
        let me = current(&svc, &web.token).await;
        let version = |s: SessionStatus| match s {
            SessionStatus::Active { sessions_version } => sessions_version,
            other => panic!("not active: {other:?}"),
        };
        let before = version(svc.status(Some(&web.token), None).await.unwrap());
        let mut asked = Vec::new();
        // Each of Ada's twice (the second is "already ended": fine), Bob's and one that never
        // existed (not found), all at once.
        let targets = others
            .iter()
            .chain(&others)
            .map(|o| (o.session_id.clone(), Ok(())))
            .chain([
                (bob.session_id.clone(), Err(AppError::NotFound)),
                (SessionId("AAAAAAAAAAAAAAAAAAAAAA".into()), Err(AppError::NotFound)),
            ]);
        for (id, expected) in targets {
            let (svc, me) = (svc.clone(), me.clone());
            asked.push(tokio::spawn(async move { (svc.end_session(&me, &client("203.0.113.1"), &id).await, expected) }));
        }
        for task in asked {
            let (got, expected) = task.await.unwrap();
            assert_eq!(got, expected);
        }
        for other in &others {
            assert_eq!(peek(&svc, &other.token).await, Resolved::Ended(EndReason::EndedByUser));
        }
        current(&svc, &bob.token).await;
        let me = current(&svc, &web.token).await;
        assert_eq!(svc.list_sessions(&me).await.unwrap().len(), 1);
        let log = svc.activity_export(&me, app::model::ActivityFilter::Ended).await.unwrap();
        let ended = log.iter().filter(|e| e.kind == app::model::EventKind::SessionEnded).count();
        assert_eq!(ended, 12, "one event per ended session: {log:?}");
        let after = version(svc.status(Some(&web.token), None).await.unwrap());
        assert_eq!(after - before, 12, "the session list moves once per ended session");
    }

    async fn logging_out_ends_only_the_current_session(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        svc.log_out(&current(&svc, &web.token).await, &client("203.0.113.1")).await.unwrap();
        assert_eq!(peek(&svc, &web.token).await, Resolved::Ended(EndReason::LoggedOut));
        current(&svc, &phone.token).await;
    }

    async fn terminate_all_ends_every_session_including_the_current_one(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let remembered = log_in(&svc, "ada@example.com", true).await;
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        let bob = sign_up(&svc, "Bob", "bob@example.com").await;
        let ended = svc.terminate_all(&current(&svc, &web.token).await, &client("203.0.113.1")).await.unwrap();
        assert_eq!(ended, 3);
        for token in [&web.token, &remembered.token, &phone.token] {
            assert_eq!(peek(&svc, token).await, Resolved::Ended(EndReason::TerminatedAll));
        }
        current(&svc, &bob.token).await;
        // Logging in again afterwards works and is a new session.
        let again = log_in(&svc, "ada@example.com", false).await;
        assert_eq!(svc.list_sessions(&current(&svc, &again.token).await).await.unwrap().len(), 1);
    }

    async fn tokens_of_a_foreign_shape_stand_for_nothing(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let mut altered = web.token.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        let longer = format!("{}x", web.token);
        let upper = web.token.to_uppercase();
        let candidates: [&str; 6] = ["", "abc", web.session_id.as_str(), &altered, &longer, &upper];
        for token in candidates {
            if token == web.token {
                continue;
            }
            assert_eq!(peek(&svc, token).await, Resolved::None, "{token:?}");
        }
        assert_eq!(svc.status(None, None).await.unwrap(), SessionStatus::None);
    }

    // ---- expiry --------------------------------------------------------------------------------

    async fn a_browser_session_ends_exactly_when_its_idle_time_runs_out(db) {
        let policy = short_policy();
        let (svc, clock) = db.service_with(policy.clone()).await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        clock.set_ms(T0 + policy.idle_ms - 1);
        current(&svc, &web.token).await;
        clock.set_ms(T0 + policy.idle_ms);
        assert_eq!(peek(&svc, &web.token).await, Resolved::Ended(EndReason::Expired));
        // Activity cannot bring it back, and going back in time neither: it was marked ended.
        assert_eq!(svc.authenticate(&web.token, true).await.unwrap(), Resolved::Ended(EndReason::Expired));
        clock.set_ms(T0);
        assert_eq!(peek(&svc, &web.token).await, Resolved::Ended(EndReason::Expired));
    }

    async fn a_session_ends_exactly_at_its_maximum_age_however_active(db) {
        let policy = short_policy();
        let (svc, clock) = db.service_with(policy.clone()).await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let mut t = T0;
        while t + 5 * MINUTE < T0 + policy.max_age_ms {
            t += 5 * MINUTE;
            clock.set_ms(t);
            assert!(svc.authenticate(&web.token, true).await.unwrap().active().is_some(), "active at {}", t - T0);
        }
        clock.set_ms(T0 + policy.max_age_ms - 1);
        assert!(svc.authenticate(&web.token, true).await.unwrap().active().is_some());
        clock.set_ms(T0 + policy.max_age_ms);
        assert_eq!(svc.authenticate(&web.token, true).await.unwrap(), Resolved::Ended(EndReason::Expired));
    }

    async fn polling_the_status_never_extends_the_idle_time(db) {
        let policy = short_policy();
        let (svc, clock) = db.service_with(policy.clone()).await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let mut t = T0;
        while t + 5 * SECOND < T0 + policy.idle_ms {
            t += 5 * SECOND;
            clock.set_ms(t);
            assert!(matches!(svc.status(Some(&web.token), None).await.unwrap(), SessionStatus::Active { .. }));
            if (t - T0) % (2 * MINUTE) == 0 {
                current(&svc, &web.token).await;
            }
        }
        let list = svc.list_sessions(&current(&svc, &web.token).await).await.unwrap();
        assert_eq!(list[0].last_active_at, T0, "polling is not activity");
        clock.set_ms(T0 + policy.idle_ms);
        assert_eq!(svc.status(Some(&web.token), None).await.unwrap(), SessionStatus::Ended { reason: EndReason::Expired });
    }

    async fn activity_moves_the_idle_deadline(db) {
        let policy = short_policy();
        let (svc, clock) = db.service_with(policy.clone()).await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let active_at = T0 + 5 * MINUTE;
        clock.set_ms(active_at);
        svc.authenticate(&web.token, true).await.unwrap();
        let list = svc.list_sessions(&current(&svc, &web.token).await).await.unwrap();
        assert_eq!(list[0].last_active_at, active_at);
        clock.set_ms(T0 + policy.idle_ms);
        current(&svc, &web.token).await;
        clock.set_ms(active_at + policy.idle_ms - 1);
        current(&svc, &web.token).await;
        clock.set_ms(active_at + policy.idle_ms);
        assert_eq!(peek(&svc, &web.token).await, Resolved::Ended(EndReason::Expired));
    }

    async fn activity_is_written_at_most_once_per_write_interval(db) {
        let policy = short_policy();
        let (svc, clock) = db.service_with(policy.clone()).await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        // Within the first minute requests do not write; the deadline stays where login put it.
        clock.set_ms(T0 + policy.activity_write_interval_ms - 1);
        svc.authenticate(&web.token, true).await.unwrap();
        let list = svc.list_sessions(&current(&svc, &web.token).await).await.unwrap();
        assert_eq!(list[0].last_active_at, T0);
        // A minute after the last write, the next request writes.
        let written_at = T0 + policy.activity_write_interval_ms;
        clock.set_ms(written_at);
        svc.authenticate(&web.token, true).await.unwrap();
        clock.set_ms(written_at + 30 * SECOND);
        svc.authenticate(&web.token, true).await.unwrap();
        let list = svc.list_sessions(&current(&svc, &web.token).await).await.unwrap();
        assert_eq!(list[0].last_active_at, written_at);
        clock.set_ms(written_at + policy.idle_ms - 1);
        current(&svc, &web.token).await;
        clock.set_ms(written_at + policy.idle_ms);
        assert_eq!(peek(&svc, &web.token).await, Resolved::Ended(EndReason::Expired));
    }

    async fn remembered_logins_and_the_mail_app_get_the_longer_lifetimes(db) {
        let policy = short_policy();
        let (svc, clock) = db.service_with(policy.clone()).await;
        let plain = sign_up(&svc, "Ada", "ada@example.com").await;
        let remembered = log_in(&svc, "ada@example.com", true).await;
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        assert!(!plain.auto_login);
        assert!(remembered.auto_login && phone.auto_login);
        assert_eq!(remembered.max_age_secs, policy.remembered_max_age_ms / 1000);
        assert_eq!(plain.max_age_secs, policy.max_age_ms / 1000);
        assert!(current(&svc, &phone.token).await.auto_login);

        clock.set_ms(T0 + policy.idle_ms);
        assert_eq!(peek(&svc, &plain.token).await, Resolved::Ended(EndReason::Expired));
        current(&svc, &remembered.token).await;
        current(&svc, &phone.token).await;

        // Remembered idle limit, to the millisecond.
        clock.set_ms(T0 + policy.remembered_idle_ms - 1);
        current(&svc, &remembered.token).await;
        clock.set_ms(T0 + policy.remembered_idle_ms);
        assert_eq!(peek(&svc, &remembered.token).await, Resolved::Ended(EndReason::Expired));
        assert_eq!(peek(&svc, &phone.token).await, Resolved::Ended(EndReason::Expired));

        // Remembered maximum age: a phone used every twelve hours still ends on day seven.
        clock.set_ms(T0);
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        let mut t = T0;
        while t + 12 * HOUR < T0 + policy.remembered_max_age_ms {
            t += 12 * HOUR;
            clock.set_ms(t);
            assert!(svc.authenticate(&phone.token, true).await.unwrap().active().is_some());
        }
        clock.set_ms(T0 + policy.remembered_max_age_ms - 1);
        current(&svc, &phone.token).await;
        clock.set_ms(T0 + policy.remembered_max_age_ms);
        assert_eq!(peek(&svc, &phone.token).await, Resolved::Ended(EndReason::Expired));
    }

    async fn a_login_beyond_the_session_limit_ends_the_least_recently_active_session(db) {
        let policy = SessionPolicy { max_active: 3, ..short_policy() };
        let (svc, clock) = db.service_with(policy).await;
        let s1 = sign_up(&svc, "Ada", "ada@example.com").await;
        clock.advance_ms(MINUTE);
        let s2 = log_in(&svc, "ada@example.com", false).await;
        clock.advance_ms(MINUTE);
        let s3 = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        clock.advance_ms(MINUTE);
        // s1 is the oldest, but used just now: s2 is now the least recently active.
        svc.authenticate(&s1.token, true).await.unwrap();
        let bob = sign_up(&svc, "Bob", "bob@example.com").await;
        clock.advance_ms(MINUTE);
        let s4 = log_in(&svc, "ada@example.com", false).await;
        assert_eq!(peek(&svc, &s2.token).await, Resolved::Ended(EndReason::SessionLimit), "its own reason, not \"expired\"");
        for token in [&s1.token, &s3.token, &s4.token, &bob.token] {
            current(&svc, token).await;
        }
        let list = svc.list_sessions(&current(&svc, &s4.token).await).await.unwrap();
        assert_eq!(list.len(), 3);
        // Ended or expired sessions do not count towards the limit.
        svc.log_out(&current(&svc, &s3.token).await, &client("198.51.100.7")).await.unwrap();
        let s5 = log_in(&svc, "ada@example.com", false).await;
        for token in [&s1.token, &s4.token, &s5.token] {
            current(&svc, token).await;
        }
    }

    async fn concurrent_logins_never_exceed_the_session_limit(db) {
        let policy = SessionPolicy { max_active: 3, ..short_policy() };
        let (svc, _clock) = db.service_with(policy).await;
        let mut tokens = vec![sign_up(&svc, "Ada", "ada@example.com").await.token];
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let svc = svc.clone();
            tasks.push(tokio::spawn(async move { log_in(&svc, "ada@example.com", false).await }));
        }
        for task in tasks {
            tokens.push(task.await.unwrap().token);
        }
        let mut active = Vec::new();
        for token in &tokens {
            if let Resolved::Active(s) = peek(&svc, token).await {
                active.push(s);
            }
        }
        assert_eq!(active.len(), 3, "{} active sessions", active.len());
        assert_eq!(svc.list_sessions(&active[0]).await.unwrap().len(), 3);
    }

    // ---- housekeeping ----------------------------------------------------------------------------

    async fn purge_marks_expired_sessions_and_deletes_only_old_ended_ones(db) {
        let policy = short_policy();
        let (svc, clock) = db.service_with(policy.clone()).await;
        let old = sign_up(&svc, "Ada", "ada@example.com").await;
        let account_id = current(&svc, &old.token).await.account_id;
        svc.log_out(&current(&svc, &old.token).await, &client("203.0.113.1")).await.unwrap();
        let idle = log_in(&svc, "ada@example.com", false).await;

        let now = T0 + policy.retention_ms + MINUTE;
        clock.set_ms(now);
        let recent = log_in(&svc, "ada@example.com", false).await;
        svc.log_out(&current(&svc, &recent.token).await, &client("203.0.113.2")).await.unwrap();
        let active = log_in(&svc, "ada@example.com", false).await;

        assert_eq!(svc.purge().await.unwrap(), (1, 1), "one expired session marked, one old ended session deleted");
        assert_eq!(peek(&svc, &old.token).await, Resolved::None, "deleted");
        assert_eq!(peek(&svc, &idle.token).await, Resolved::Ended(EndReason::Expired));
        assert_eq!(peek(&svc, &recent.token).await, Resolved::Ended(EndReason::LoggedOut));
        current(&svc, &active.token).await;
        assert_eq!(svc.store.dump_sessions_text().await.unwrap().len(), 3);
        let purge_before = now - policy.retention_ms;
        let events = svc.store.events(account_id).await.unwrap();
        assert!(!events.is_empty());
        assert!(events.iter().all(|e| e.at >= purge_before), "old events purged: {events:?}");

        // Nothing more to do now; the idle session is deleted once it has been ended long enough
        // (it ended when it ran out, ten minutes after T0).
        assert_eq!(svc.purge().await.unwrap(), (0, 0));
        clock.set_ms(T0 + policy.idle_ms + policy.retention_ms + 1);
        let (_, deleted) = svc.purge().await.unwrap();
        assert_eq!(deleted, 1);
        assert_eq!(peek(&svc, &idle.token).await, Resolved::None);
        assert_eq!(peek(&svc, &recent.token).await, Resolved::Ended(EndReason::LoggedOut));
    }

    // ---- password change ---------------------------------------------------------------------------

    async fn a_password_change_ends_other_sessions_and_gives_the_current_one_a_new_token(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let other = log_in(&svc, "ada@example.com", true).await;
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        let bob = sign_up(&svc, "Bob", "bob@example.com").await;
        let me = current(&svc, &web.token).await;

        let new_token = svc.change_password(&me, &client("203.0.113.1"), PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await.unwrap();
        assert_ne!(new_token, web.token);
        let after = current(&svc, &new_token).await;
        assert_eq!(after.session_id, me.session_id, "the same session continues");
        assert_ne!(after.sessions_version, me.sessions_version);
        assert_eq!(peek(&svc, &web.token).await, Resolved::None, "the old token of the current session is dead");
        assert_eq!(peek(&svc, &other.token).await, Resolved::Ended(EndReason::PasswordChanged));
        assert_eq!(peek(&svc, &phone.token).await, Resolved::Ended(EndReason::PasswordChanged));
        current(&svc, &bob.token).await;

        let err = svc.log_in(&browser_login("ada@example.com", PASSWORD, false), &client("192.0.2.1")).await.unwrap_err();
        assert_eq!(err, AppError::InvalidCredentials);
        svc.log_in(&browser_login("ada@example.com", NEW_PASSWORD, false), &client("192.0.2.1")).await.unwrap();
        svc.log_in(&browser_login("bob@example.com", PASSWORD, false), &client("192.0.2.1")).await.unwrap();
    }

    async fn a_password_change_with_a_wrong_current_password_changes_nothing(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        let me = current(&svc, &web.token).await;
        let c = client("203.0.113.1");

        let err = svc.change_password(&me, &c, "Wrong-Password-123", NEW_PASSWORD, NEW_PASSWORD).await.unwrap_err();
        assert_eq!(validation_field(&err), "current_password");
        let err = svc.change_password(&me, &c, PASSWORD, NEW_PASSWORD, "Glacier-Trombone-Saffron-78").await.unwrap_err();
        assert_eq!(validation_field(&err), "repeat_new_password");
        let err = svc.change_password(&me, &c, PASSWORD, "password1", "password1").await.unwrap_err();
        assert_eq!(validation_field(&err), "new_password");

        current(&svc, &web.token).await;
        current(&svc, &phone.token).await;
        log_in(&svc, "ada@example.com", false).await;
        let err = svc.log_in(&browser_login("ada@example.com", NEW_PASSWORD, false), &c).await.unwrap_err();
        assert_eq!(err, AppError::InvalidCredentials);
        let kinds: Vec<String> = svc.store.events(me.account_id).await.unwrap().into_iter().map(|e| e.kind.to_string()).collect();
        assert!(!kinds.iter().any(|k| k == "password_changed"), "{kinds:?}");
    }

    async fn a_password_change_that_fails_midway_changes_nothing(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let other = log_in(&svc, "ada@example.com", false).await;
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        let me = current(&svc, &web.token).await;

        // The rotation of the current session's token is the last write of the change: make it fail.
        let trigger: &'static str = match db.backend {
            "sqlite" => "CREATE TRIGGER fail_rotate BEFORE UPDATE OF token_hash ON sessions
                         BEGIN SELECT RAISE(ABORT, 'injected'); END;",
            _ => "CREATE FUNCTION fail_rotate() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN RAISE EXCEPTION 'injected'; END $$;
                  CREATE TRIGGER fail_rotate BEFORE UPDATE OF token_hash ON sessions
                  FOR EACH ROW EXECUTE FUNCTION fail_rotate();",
        };
        svc.store.execute_raw(trigger).await.unwrap();

        let err = svc.change_password(&me, &client("203.0.113.1"), PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await.unwrap_err();
        assert_eq!(err, AppError::Internal);

        assert_eq!(current(&svc, &web.token).await.session_id, me.session_id);
        current(&svc, &other.token).await;
        current(&svc, &phone.token).await;
        log_in(&svc, "ada@example.com", false).await;
        let err = svc.log_in(&browser_login("ada@example.com", NEW_PASSWORD, false), &client("192.0.2.1")).await.unwrap_err();
        assert_eq!(err, AppError::InvalidCredentials);
        let kinds: Vec<String> = svc.store.events(me.account_id).await.unwrap().into_iter().map(|e| e.kind.to_string()).collect();
        assert!(!kinds.iter().any(|k| k == "password_changed"), "{kinds:?}");
    }

    // ---- resetting auto-login ----------------------------------------------------------------------

    async fn resetting_auto_login_ends_every_remembered_login_but_keeps_the_current_one(db) {
        let policy = short_policy();
        let (svc, clock) = db.service_with(policy.clone()).await;
        sign_up(&svc, "Ada", "ada@example.com").await;
        let here = log_in(&svc, "ada@example.com", true).await;
        let laptop = log_in(&svc, "ada@example.com", true).await;
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        let plain = log_in(&svc, "ada@example.com", false).await;
        let me = current(&svc, &here.token).await;
        assert!(me.auto_login);

        let new_token = svc.reset_auto_login(&me, &client("203.0.113.2"), PASSWORD).await.unwrap();
        assert_eq!(peek(&svc, &laptop.token).await, Resolved::Ended(EndReason::AutoLoginReset));
        assert_eq!(peek(&svc, &phone.token).await, Resolved::Ended(EndReason::AutoLoginReset));
        current(&svc, &plain.token).await;
        assert_eq!(peek(&svc, &here.token).await, Resolved::None, "the old token is dead");
        let after = current(&svc, &new_token).await;
        assert_eq!(after.session_id, me.session_id);
        assert!(!after.auto_login, "the current login is no longer remembered");
        let list = svc.list_sessions(&after).await.unwrap();
        assert_eq!(list.len(), 3, "the sign-up session, the plain one and this one");
        assert!(list.iter().all(|s| !s.auto_login));

        // It now lives like an ordinary browser session: ten idle minutes.
        clock.set_ms(T0 + policy.idle_ms - 1);
        current(&svc, &new_token).await;
        clock.set_ms(T0 + policy.idle_ms);
        assert_eq!(peek(&svc, &new_token).await, Resolved::Ended(EndReason::Expired));
    }

    async fn resetting_auto_login_from_a_plain_session_keeps_it_as_it_was(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        let me = current(&svc, &web.token).await;
        let new_token = svc.reset_auto_login(&me, &client("203.0.113.1"), PASSWORD).await.unwrap();
        let after = current(&svc, &new_token).await;
        assert_eq!(after.session_id, me.session_id);
        assert_eq!(after.expires_at, me.expires_at);
        assert!(!after.auto_login);
        assert_eq!(peek(&svc, &phone.token).await, Resolved::Ended(EndReason::AutoLoginReset));
        // The password is unchanged.
        log_in(&svc, "ada@example.com", false).await;
    }

    async fn resetting_auto_login_with_a_wrong_password_ends_nothing(db) {
        let (svc, _clock) = db.service().await;
        let here = sign_up(&svc, "Ada", "ada@example.com").await;
        let laptop = log_in(&svc, "ada@example.com", true).await;
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        let me = current(&svc, &here.token).await;
        let err = svc.reset_auto_login(&me, &client("203.0.113.1"), "Wrong-Password-123").await.unwrap_err();
        assert_eq!(validation_field(&err), "password");
        for token in [&here.token, &laptop.token, &phone.token] {
            current(&svc, token).await;
        }
        assert!(current(&svc, &laptop.token).await.auto_login);
    }

    // ---- status and the security log ---------------------------------------------------------------

    async fn the_sessions_version_changes_when_a_session_starts_or_ends(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let version = |s: SessionStatus| match s {
            SessionStatus::Active { sessions_version } => sessions_version,
            other => panic!("not active: {other:?}"),
        };
        let v1 = version(svc.status(Some(&web.token), None).await.unwrap());
        assert_eq!(version(svc.status(Some(&web.token), None).await.unwrap()), v1, "polling changes nothing");
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        let v2 = version(svc.status(Some(&web.token), None).await.unwrap());
        assert!(v2 > v1);
        svc.end_session(&current(&svc, &web.token).await, &client("203.0.113.1"), &phone.session_id).await.unwrap();
        let v3 = version(svc.status(Some(&web.token), None).await.unwrap());
        assert!(v3 > v2);
        // Another account's logins do not disturb this one.
        sign_up(&svc, "Bob", "bob@example.com").await;
        assert_eq!(version(svc.status(Some(&web.token), None).await.unwrap()), v3);
    }

    async fn security_events_are_recorded_without_passwords_or_tokens(db) {
        let (svc, clock) = db.service().await;
        let c = client("203.0.113.1");
        let mut tokens = Vec::new();
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        tokens.push(web.token.clone());
        let account_id = current(&svc, &web.token).await.account_id;

        clock.advance_ms(SECOND);
        let err = svc.log_in(&browser_login("ada@example.com", "Wrong-Password-123", false), &client("192.0.2.66")).await.unwrap_err();
        assert_eq!(err, AppError::InvalidCredentials);
        clock.advance_ms(SECOND);
        let other = log_in(&svc, "ada@example.com", false).await;
        tokens.push(other.token.clone());
        clock.advance_ms(SECOND);
        svc.end_session(&current(&svc, &web.token).await, &c, &other.session_id).await.unwrap();
        clock.advance_ms(SECOND);
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        tokens.push(phone.token.clone());
        clock.advance_ms(SECOND);
        let t = svc.reset_auto_login(&current(&svc, &web.token).await, &c, PASSWORD).await.unwrap();
        tokens.push(t.clone());
        clock.advance_ms(SECOND);
        let t = svc.change_password(&current(&svc, &t).await, &c, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await.unwrap();
        tokens.push(t.clone());
        clock.advance_ms(SECOND);
        svc.terminate_all(&current(&svc, &t).await, &c).await.unwrap();

        let events = svc.store.events(account_id).await.unwrap();
        let kinds: Vec<&str> = events.iter().rev().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "account_created",
                "login_succeeded",
                "login_failed",
                "login_succeeded",
                "session_ended",
                "login_succeeded",
                "auto_login_reset",
                "password_changed",
                "sessions_terminated",
            ]
        );
        let failed = events.iter().find(|e| e.kind.as_str() == "login_failed").unwrap();
        assert_eq!(failed.ip.as_deref(), Some("192.0.2.66"));
        let ended = events.iter().find(|e| e.kind.as_str() == "session_ended").unwrap();
        assert_eq!(ended.session_id.as_ref(), Some(&web.session_id));
        assert_eq!(ended.target_id.as_ref(), Some(&other.session_id));
        assert_eq!(ended.at, T0 + 3 * SECOND);

        for event in &events {
            let ids = [&event.session_id, &event.target_id].into_iter().flatten().map(SessionId::as_str);
            for field in ids.chain([&event.ip, &event.detail].into_iter().flatten().map(String::as_str)) {
                for secret in tokens.iter().map(String::as_str).chain([PASSWORD, NEW_PASSWORD, "Wrong-Password-123"]) {
                    assert!(!field.contains(secret), "secret in {event:?}");
                }
            }
        }
    }
}
