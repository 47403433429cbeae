//! The security centre against real SQLite and PostgreSQL: the event each action writes, the
//! activity and ended lists scoped and paged, end-others, new-device messages, and "This wasn't
//! me" in one transaction.

mod common;

use app::model::{ActivityFilter, AppError, EndReason, EventKind, MessageReply, ACTIVITY_PAGE_SIZE};
use app::ssr::service::SecureAccount;
use app::ssr::Resolved;
use common::*;

fn secure<'a>(reported: &'a app::model::SessionId, current_password: &'a str) -> SecureAccount<'a> {
    SecureAccount { reported, current_password, new_password: NEW_PASSWORD, repeat: NEW_PASSWORD }
}

backend_tests! {
    async fn a_device_new_to_the_account_leaves_one_message_and_a_known_one_none(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let me = current(&svc, &web.token).await;
        assert!(svc.inbox(&me).await.unwrap().messages.is_empty(), "the sign-up browser is known from the start");

        // The same browser again (it sends the device id it got): not new.
        let again = svc
            .log_in(&browser_login("ada@example.com", PASSWORD, false), &on_device("203.0.113.1", &web.device_id))
            .await
            .unwrap();
        assert!(svc.inbox(&me).await.unwrap().messages.is_empty());

        // A browser that never logged in: one message, about that login, unread.
        let stranger = log_in(&svc, "ada@example.com", false).await;
        let inbox = svc.inbox(&me).await.unwrap();
        assert_eq!(inbox.messages.len(), 1);
        let message = &inbox.messages[0];
        assert_eq!(message.session_id, stranger.session_id);
        assert_eq!(message.device, "Chrome on Linux");
        assert_eq!(message.ip, "203.0.113.2");
        assert!(!message.read && !message.this_session);
        assert_eq!(current(&svc, &web.token).await.unread_messages, 1);

        // Its second login is not new.
        svc.log_in(&browser_login("ada@example.com", PASSWORD, false), &on_device("203.0.113.2", &stranger.device_id))
            .await
            .unwrap();
        assert_eq!(svc.inbox(&me).await.unwrap().messages.len(), 1);

        // Read from the login it is about, it says so.
        let theirs = current(&svc, &stranger.token).await;
        assert!(svc.inbox(&theirs).await.unwrap().messages[0].this_session);
        // The intruder reads the same Inbox: from that login the alert can be neither answered
        // nor hidden.
        assert!(matches!(svc.report_not_me(&theirs, message.id).await, Err(AppError::Conflict { .. })));
        assert!(matches!(svc.mark_message_read(&theirs, message.id).await, Err(AppError::Conflict { .. })));
        assert!(matches!(svc.delete_message(&theirs, message.id).await, Err(AppError::Conflict { .. })));
        assert!(!svc.message(&me, message.id).await.unwrap().read);

        // Turned off: no message for a further new device.
        svc.set_login_notifications(&me, false).await.unwrap();
        log_in(&svc, "ada@example.com", false).await;
        assert_eq!(svc.inbox(&me).await.unwrap().messages.len(), 1);
        drop(again);
    }

    async fn messages_are_their_owners_alone(db) {
        let (svc, _clock) = db.service().await;
        let ada = sign_up(&svc, "Ada", "ada@example.com").await;
        let bob_login = sign_up(&svc, "Bob", "bob@example.com").await;
        log_in(&svc, "bob@example.com", false).await;
        let (ada, bob) = (current(&svc, &ada.token).await, current(&svc, &bob_login.token).await);
        let bobs = svc.inbox(&bob).await.unwrap().messages[0].id;
        assert_eq!(svc.message(&ada, bobs).await.unwrap_err(), AppError::MessageNotFound);
        assert_eq!(svc.mark_message_read(&ada, bobs).await.unwrap_err(), AppError::MessageNotFound);
        assert_eq!(svc.delete_message(&ada, bobs).await.unwrap_err(), AppError::MessageNotFound);
        assert_eq!(svc.report_not_me(&ada, bobs).await.unwrap_err(), AppError::MessageNotFound);
        assert!(!svc.message(&bob, bobs).await.unwrap().read, "untouched");

        svc.mark_message_read(&bob, bobs).await.unwrap();
        let answered = svc.message(&bob, bobs).await.unwrap();
        assert!(answered.read);
        assert_eq!(answered.reply, Some(MessageReply::Confirmed));
        assert_eq!(current(&svc, &bob_login.token).await.unread_messages, 0);
        svc.delete_message(&bob, bobs).await.unwrap();
        assert!(svc.inbox(&bob).await.unwrap().messages.is_empty());
    }

    async fn ending_the_others_keeps_exactly_the_current_session(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let laptop = log_in(&svc, "ada@example.com", true).await;
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        let bob = sign_up(&svc, "Bob", "bob@example.com").await;
        let me = current(&svc, &web.token).await;

        assert_eq!(svc.end_other_sessions(&me, &client("203.0.113.1")).await.unwrap(), 2);
        assert_eq!(current(&svc, &web.token).await.session_id, me.session_id, "same session, same token");
        assert_eq!(peek(&svc, &laptop.token).await, Resolved::Ended(EndReason::EndedOthers));
        assert_eq!(peek(&svc, &phone.token).await, Resolved::Ended(EndReason::EndedOthers));
        current(&svc, &bob.token).await;
        let listed = svc.list_sessions(&me).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].current);

        let ended = svc.ended_sessions(&me).await.unwrap();
        assert_eq!(ended.len(), 2);
        assert!(ended.iter().all(|s| s.reason == EndReason::EndedOthers && s.how() == "Other sessions ended"));
        let page = svc.activity(&me, ActivityFilter::All, 1).await.unwrap();
        assert_eq!(page.events[0].kind, EventKind::OtherSessionsEnded);
    }

    async fn every_action_writes_its_event_and_the_log_is_the_accounts_own(db) {
        let (svc, clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let me = current(&svc, &web.token).await;
        let other = log_in(&svc, "ada@example.com", false).await;
        svc.log_in(&browser_login("ada@example.com", "Wrong-Password-123", false), &client("192.0.2.66")).await.unwrap_err();
        let other_id = other.session_id.clone();
        clock.advance_ms(SECOND);
        svc.end_session(&me, &client("203.0.113.1"), &other_id).await.unwrap();
        svc.change_password(&me, &client("203.0.113.1"), "Wrong-Password-123", NEW_PASSWORD, NEW_PASSWORD).await.unwrap_err();
        let bob = sign_up(&svc, "Bob", "bob@example.com").await;
        let bob = current(&svc, &bob.token).await;

        let page = svc.activity(&me, ActivityFilter::All, 1).await.unwrap();
        let kinds: Vec<EventKind> = page.events.iter().map(|e| e.kind).collect();
        for kind in [
            EventKind::AccountCreated,
            EventKind::LoginSucceeded,
            EventKind::LoginFailed,
            EventKind::SessionEnded,
            EventKind::PasswordReentryFailed,
        ] {
            assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
        }
        let failed = page.events.iter().find(|e| e.kind == EventKind::LoginFailed).unwrap();
        assert_eq!((failed.ip.as_deref(), failed.device.as_deref()), (Some("192.0.2.66"), Some("Chrome on Linux")));
        let ended = page.events.iter().find(|e| e.kind == EventKind::SessionEnded).unwrap();
        assert_eq!(ended.what(), "Session ended: Chrome on Linux");
        // The login of this session can only be marked current; the ended one has no button.
        assert!(page.events.iter().filter(|e| e.active_session.is_some()).all(|e| e.current));

        let failures = svc.activity(&me, ActivityFilter::Failed, 1).await.unwrap();
        assert!(failures.events.iter().all(|e| matches!(e.kind, EventKind::LoginFailed | EventKind::PasswordReentryFailed)));
        assert_eq!(failures.events.len(), 2);

        let bobs = svc.activity(&bob, ActivityFilter::All, 1).await.unwrap();
        assert_eq!(bobs.events.len(), 2, "Bob's sign-up and login only: {:?}", bobs.events);
        let ended_of_bob = svc.ended_sessions(&bob).await.unwrap();
        assert!(ended_of_bob.is_empty());
        let ended_of_ada = svc.ended_sessions(&me).await.unwrap();
        assert_eq!(ended_of_ada.len(), 1);
        assert_eq!(ended_of_ada[0].how(), "Ended from Chrome on Linux");
    }

    async fn the_activity_log_comes_in_pages_of_fifty(db) {
        let (svc, clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let me = current(&svc, &web.token).await;
        let here = on_device("203.0.113.1", &web.device_id);
        for _ in 0..ACTIVITY_PAGE_SIZE / 2 {
            clock.advance_ms(SECOND);
            let login = svc.log_in(&browser_login("ada@example.com", PASSWORD, false), &here).await.unwrap();
            svc.log_out(&current(&svc, &login.token).await, &here).await.unwrap();
        }
        // Sign-up (account created, logged in) and 25 logins with their logouts: 52 events.
        let first = svc.activity(&me, ActivityFilter::All, 1).await.unwrap();
        assert_eq!(first.events.len(), ACTIVITY_PAGE_SIZE);
        assert!(first.has_older);
        let second = svc.activity(&me, ActivityFilter::All, 2).await.unwrap();
        assert_eq!(second.events.len(), 2);
        assert!(!second.has_older);
        assert_eq!(second.events.last().unwrap().kind, EventKind::AccountCreated);
        assert!(first.events.windows(2).all(|w| w[0].at >= w[1].at), "newest first");
        assert_eq!(svc.activity_export(&me, ActivityFilter::All).await.unwrap().len(), ACTIVITY_PAGE_SIZE + 2);
    }

    async fn this_wasnt_me_does_everything_at_once(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let intruder = log_in(&svc, "ada@example.com", false).await;
        let phone = log_in_app(&svc, "ada@example.com", "Pixel 8").await;
        let me = current(&svc, &web.token).await;
        let message = svc.inbox(&me).await.unwrap().messages.into_iter().find(|m| m.session_id == intruder.session_id).unwrap();
        let reported = svc.report_not_me(&me, message.id).await.unwrap();
        assert_eq!(reported, intruder.session_id);

        // A wrong current password changes nothing.
        let err = svc.secure_account(&me, &client("203.0.113.1"), &secure(&reported, "Wrong-Password-123")).await.unwrap_err();
        assert_eq!(err.field(), Some("current_password"));
        current(&svc, &intruder.token).await;

        let token = svc.secure_account(&me, &client("203.0.113.1"), &secure(&reported, PASSWORD)).await.unwrap();
        assert_eq!(peek(&svc, &intruder.token).await, Resolved::Ended(EndReason::NotMe));
        assert_eq!(peek(&svc, &phone.token).await, Resolved::Ended(EndReason::NotMe));
        assert_eq!(peek(&svc, &web.token).await, Resolved::None, "the caller's token was rotated");
        let after = current(&svc, &token).await;
        assert_eq!(after.session_id, me.session_id);
        assert!(!after.auto_login);
        let err = svc.log_in(&browser_login("ada@example.com", PASSWORD, false), &client("192.0.2.1")).await.unwrap_err();
        assert_eq!(err, AppError::InvalidCredentials);
        // The reported device was forgotten: its next login is new again.
        let back = svc
            .log_in(&browser_login("ada@example.com", NEW_PASSWORD, false), &on_device("203.0.113.2", &intruder.device_id))
            .await
            .unwrap();
        assert_eq!(svc.inbox(&after).await.unwrap().messages.iter().filter(|m| m.session_id == back.session_id).count(), 1);
        let kinds: Vec<EventKind> = svc.activity(&after, ActivityFilter::Password, 1).await.unwrap().events.iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&EventKind::AccountSecured), "{kinds:?}");
    }

    async fn this_wasnt_me_still_secures_the_account_once_the_reported_session_was_purged(db) {
        let policy = app::ssr::SessionPolicy { retention_ms: HOUR, ..Default::default() };
        let (svc, clock) = db.service_with(policy).await;
        sign_up(&svc, "Ada", "ada@example.com").await;
        let here = log_in(&svc, "ada@example.com", true).await;
        let intruder = log_in(&svc, "ada@example.com", false).await;
        svc.log_out(&current(&svc, &intruder.token).await, &client("192.0.2.9")).await.unwrap();
        clock.advance_ms(2 * HOUR);
        svc.purge().await.unwrap();
        let me = current(&svc, &here.token).await;
        let message = svc.inbox(&me).await.unwrap().messages.into_iter().find(|m| m.session_id == intruder.session_id).unwrap();
        let reported = svc.report_not_me(&me, message.id).await.unwrap();
        let shown = svc.reported_session(&me, &reported).await.unwrap();
        assert_eq!(shown.ip, "203.0.113.2");
        svc.secure_account(&me, &client("203.0.113.2"), &secure(&reported, PASSWORD)).await.unwrap();
        let err = svc.log_in(&browser_login("ada@example.com", PASSWORD, false), &client("192.0.2.1")).await.unwrap_err();
        assert_eq!(err, AppError::InvalidCredentials);
    }

    async fn the_purge_job_writes_session_expired_for_each_session_it_expires(db) {
        let (svc, clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let me = current(&svc, &web.token).await;
        clock.advance_ms(DAY);
        svc.purge().await.unwrap();
        let kinds: Vec<EventKind> = svc.store.events(me.account_id).await.unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds.iter().filter(|k| **k == EventKind::SessionExpired).count(), 1, "{kinds:?}");
    }

    async fn this_wasnt_me_that_fails_midway_changes_nothing(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let intruder = log_in(&svc, "ada@example.com", false).await;
        let me = current(&svc, &web.token).await;
        // The event is the last write of the transaction: make it fail.
        let trigger: &'static str = match db.backend {
            "sqlite" => "CREATE TRIGGER fail_secure BEFORE INSERT ON security_events WHEN NEW.kind = 'account_secured'
                         BEGIN SELECT RAISE(ABORT, 'injected'); END;",
            _ => "CREATE FUNCTION fail_secure() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN IF NEW.kind = 'account_secured' THEN RAISE EXCEPTION 'injected'; END IF; RETURN NEW; END $$;
                  CREATE TRIGGER fail_secure BEFORE INSERT ON security_events
                  FOR EACH ROW EXECUTE FUNCTION fail_secure();",
        };
        svc.store.execute_raw(trigger).await.unwrap();

        let err = svc.secure_account(&me, &client("203.0.113.1"), &secure(&intruder.session_id, PASSWORD)).await.unwrap_err();
        assert_eq!(err, AppError::Internal);
        assert_eq!(current(&svc, &web.token).await.session_id, me.session_id, "not rotated");
        current(&svc, &intruder.token).await;
        log_in(&svc, "ada@example.com", false).await;
        // The device is still known: its next login leaves no message.
        let before = svc.inbox(&me).await.unwrap().messages.len();
        svc.log_in(&browser_login("ada@example.com", PASSWORD, false), &on_device("203.0.113.2", &intruder.device_id))
            .await
            .unwrap();
        assert_eq!(svc.inbox(&me).await.unwrap().messages.len(), before);
    }
}
