//! Named sessions and their approximate location, against real SQLite and PostgreSQL: "Rename"
//! follows the device-name rule, is the owner's alone, and shows wherever the session is named;
//! the location is looked up once at login in a GeoIP database the test writes.

mod common;

use app::model::{AppError, EventKind, SessionId, LOCAL_NETWORK};
use app::ssr::geo::Locator;
use common::*;

/// A locator over the test database ([`GEO_TEST_ENTRIES`]), written into a temporary file.
fn test_locator() -> Locator {
    let path = std::env::temp_dir().join(format!("postern-geo-{}.mmdb", random_hex()));
    write_geo_db(&path, GEO_TEST_ENTRIES);
    let locator = Locator::open(&path).expect("the test database opens");
    std::fs::remove_file(&path).ok();
    locator
}

#[test]
fn the_test_database_places_documentation_addresses() {
    let geo = test_locator();
    assert_eq!(geo.locate("192.0.2.77").as_deref(), Some("Berlin, Germany"));
    assert_eq!(geo.locate("198.51.100.7").as_deref(), Some("Portugal"), "country alone when that is all it knows");
    assert_eq!(geo.locate("2001:db8:1::5").as_deref(), Some("Lyon, France"));
    assert_eq!(geo.locate("::ffff:192.0.2.8").as_deref(), Some("Berlin, Germany"), "IPv4 written as IPv6");
    assert_eq!(geo.locate("203.0.113.9"), None, "not in the database");
    assert_eq!(geo.locate("127.0.0.1").as_deref(), Some(LOCAL_NETWORK));
    assert_eq!(geo.locate("10.0.0.3").as_deref(), Some(LOCAL_NETWORK));
    assert_eq!(geo.locate("not an address"), None);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_with_its_path() {
    let path = std::env::temp_dir().join(format!("postern-geo-{}.mmdb", random_hex()));
    std::fs::write(&path, b"not a database").unwrap();
    let err = Locator::open(&path).unwrap_err().to_string();
    std::fs::remove_file(&path).ok();
    assert!(err.contains(&path.display().to_string()), "{err}");
}

backend_tests! {
    async fn a_renamed_session_shows_its_name_everywhere_and_an_empty_name_restores_the_parsed_one(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let other = log_in(&svc, "ada@example.com", false).await;
        let me = current(&svc, &web.token).await;

        svc.rename_session(&me, &client("203.0.113.1"), &other.session_id, "  Work laptop ").await.unwrap();
        let list = svc.list_sessions(&me).await.unwrap();
        let renamed = list.iter().find(|s| s.id == other.session_id).unwrap();
        assert_eq!(renamed.device, "Work laptop", "trimmed");
        assert_eq!(renamed.parsed_device.as_deref(), Some("Chrome on Linux"), "the parsed device stays beneath");
        assert_eq!(current(&svc, &web.token).await.sessions_version, me.sessions_version + 1, "other lists reload");

        // The activity log names it by its new name, and says it was renamed.
        let log = svc.activity(&me, Default::default(), 1).await.unwrap().events;
        assert_eq!(log[0].kind, EventKind::SessionRenamed);
        assert_eq!(log[0].what(), "Session renamed: Work laptop");
        let login = log.iter().find(|e| e.kind == EventKind::LoginSucceeded && e.active_session.as_ref() == Some(&other.session_id));
        assert_eq!(login.and_then(|e| e.device.as_deref()), Some("Work laptop"));
        // So does the new-login message about it.
        let inbox = svc.inbox(&me).await.unwrap();
        assert_eq!(inbox.messages[0].device, "Work laptop");

        // The current session can be renamed too.
        svc.rename_session(&me, &client("203.0.113.1"), &me.session_id, "This phone").await.unwrap();
        let list = svc.list_sessions(&me).await.unwrap();
        assert_eq!(list[0].device, "This phone");
        assert!(list[0].current);

        // Empty (or blank) gives the parsed device back.
        svc.rename_session(&me, &client("203.0.113.1"), &other.session_id, "   ").await.unwrap();
        let list = svc.list_sessions(&me).await.unwrap();
        let restored = list.iter().find(|s| s.id == other.session_id).unwrap();
        assert_eq!(restored.device, "Chrome on Linux");
        assert_eq!(restored.parsed_device, None);

        // An ended session cannot be renamed: not found.
        let me = current(&svc, &web.token).await;
        svc.end_session(&me, &client("203.0.113.1"), &other.session_id).await.unwrap();
        assert_eq!(
            svc.rename_session(&me, &client("203.0.113.1"), &other.session_id, "Gone").await.unwrap_err(),
            AppError::NotFound
        );
    }

    async fn names_follow_the_device_name_rule_and_a_refused_one_changes_nothing(db) {
        let (svc, _clock) = db.service().await;
        let web = sign_up(&svc, "Ada", "ada@example.com").await;
        let me = current(&svc, &web.token).await;
        svc.rename_session(&me, &client("203.0.113.1"), &me.session_id, "Kept").await.unwrap();
        for bad in ["x".repeat(65), "evil\u{202E}txt".to_string(), "tab\there".to_string(), "line\nbreak".to_string()] {
            let err = svc.rename_session(&me, &client("203.0.113.1"), &me.session_id, &bad).await.unwrap_err();
            assert_eq!(err.field(), Some("device_name"), "{bad:?}: {err:?}");
            assert!(!err.to_string().is_empty());
        }
        svc.rename_session(&me, &client("203.0.113.1"), &me.session_id, &"y".repeat(64)).await.unwrap();
        assert_eq!(svc.list_sessions(&me).await.unwrap()[0].device, "y".repeat(64));
    }

    async fn another_accounts_session_cannot_be_renamed(db) {
        let (svc, _clock) = db.service().await;
        let ada = sign_up(&svc, "Ada", "ada@example.com").await;
        let bob = sign_up(&svc, "Bob", "bob@example.com").await;
        let ada_now = current(&svc, &ada.token).await;
        let err = svc.rename_session(&ada_now, &client("203.0.113.1"), &bob.session_id, "Mine now").await.unwrap_err();
        assert_eq!(err, AppError::NotFound);
        let bob_now = current(&svc, &bob.token).await;
        assert_eq!(svc.list_sessions(&bob_now).await.unwrap()[0].device, "Chrome on Linux", "untouched");
        let garbage = SessionId("../../etc".into());
        assert_eq!(
            svc.rename_session(&ada_now, &client("203.0.113.1"), &garbage, "x").await.unwrap_err(),
            AppError::NotFound
        );
    }

    async fn the_location_is_looked_up_at_login_and_kept_with_the_session(db) {
        let (svc, _clock) = db.service().await;
        let svc = svc.with_locator(test_locator());
        let first = svc.sign_up("Ada", "ada@example.com", PASSWORD, PASSWORD, &client("192.0.2.10")).await.unwrap();
        let local = svc.log_in(&browser_login("ada@example.com", PASSWORD, false), &client("127.0.0.1")).await.unwrap();
        let unknown = svc.log_in(&browser_login("ada@example.com", PASSWORD, false), &client("203.0.113.5")).await.unwrap();
        let me = current(&svc, &first.token).await;
        let list = svc.list_sessions(&me).await.unwrap();
        let location = |id: &SessionId| list.iter().find(|s| &s.id == id).unwrap().location.clone();
        assert_eq!(location(&first.session_id).as_deref(), Some("Berlin, Germany"));
        assert_eq!(location(&local.session_id).as_deref(), Some(LOCAL_NETWORK));
        assert_eq!(location(&unknown.session_id), None);

        // The new-login message and the activity log say where too.
        let inbox = svc.inbox(&me).await.unwrap();
        assert!(inbox.messages.iter().any(|m| m.session_id == local.session_id && m.location.as_deref() == Some(LOCAL_NETWORK)));
        let log = svc.activity(&me, Default::default(), 1).await.unwrap().events;
        assert!(
            log.iter().any(|e| e.ip.as_deref() == Some("192.0.2.10") && e.location.as_deref() == Some("Berlin, Germany")),
            "{log:?}"
        );

        // Without a database: nothing, and nothing breaks.
        let (plain, _clock) = db.service().await;
        let bob = plain.sign_up("Bob", "bob@example.com", PASSWORD, PASSWORD, &client("192.0.2.10")).await.unwrap();
        let bob = current(&plain, &bob.token).await;
        assert_eq!(plain.list_sessions(&bob).await.unwrap()[0].location, None);
    }
}

/// The end-to-end server's GeoIP database (`end2end/fixtures/geo-test.mmdb`) is this test
/// database, byte for byte; `POSTERN_BLESS=1` writes it again after a change of the entries.
#[test]
fn the_end_to_end_fixture_is_the_test_database() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end/fixtures/geo-test.mmdb");
    let bytes = geo_db_bytes(GEO_TEST_ENTRIES);
    if std::env::var_os("POSTERN_BLESS").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    let committed = std::fs::read(&path).expect("end2end/fixtures/geo-test.mmdb (POSTERN_BLESS=1 writes it)");
    assert!(committed == bytes, "the fixture differs from GEO_TEST_ENTRIES: run this test with POSTERN_BLESS=1");
}
