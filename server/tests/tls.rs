//! HTTPS of its own: the production serving loop behind rustls (`--tls-cert`, `--tls-key`) with
//! a certificate `scripts/dev-cert.sh` makes, spoken to by a rustls client that trusts only it.

mod common;

use common::raw::RawStream;
use common::*;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `scripts/dev-cert.sh` into a fresh directory: (directory, cert.pem, key.pem).
fn dev_cert() -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("postern-tls-{}", random_hex()));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/dev-cert.sh");
    let out = std::process::Command::new("bash").arg(&script).arg(&dir).output().expect("run scripts/dev-cert.sh");
    assert!(out.status.success(), "dev-cert.sh: {}", String::from_utf8_lossy(&out.stderr));
    let spki = String::from_utf8(out.stdout).unwrap();
    assert_eq!(spki.trim().len(), 44, "it prints the SPKI hash (base64 of SHA-256): {spki:?}");
    (dir.clone(), dir.join("cert.pem"), dir.join("key.pem"))
}

/// A TLS connection to `addr`, trusting only `cert`, for the name `localhost`.
async fn tls_connect(
    addr: std::net::SocketAddr,
    cert: &std::path::Path,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

/// One request over TLS to `addr`, trusting `cert` for the name `localhost`; the whole answer.
async fn https_get(addr: std::net::SocketAddr, cert: &std::path::Path, path: &str) -> std::io::Result<String> {
    let mut tls = tls_connect(addr, cert).await?;
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await?;
    Ok(answer)
}

/// The production serving loop over TLS with `server`'s state, on a port of its own.
async fn serve_tls(
    server: &TestServer,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let acceptor = server::tls::acceptor(cert, key).expect("the dev certificate is usable");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = server::router(server.state.clone());
    let task = tokio::spawn(server::serve_listener(
        listener,
        router,
        std::time::Duration::from_secs(5),
        std::future::pending(),
        std::time::Duration::from_secs(1),
        Some(acceptor),
    ));
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_speaks_https_with_the_dev_certificate_and_refuses_plain_http_on_that_port() {
    let (dir, cert, key) = dev_cert();
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let (addr, task) = serve_tls(&server, &cert, &key).await;

    let answer = https_get(addr, &cert, "/healthz").await.expect("an answer over TLS");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");

    // Plain HTTP on the TLS port gets no HTTP answer: the handshake fails and the connection closes.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), plain.read_to_end(&mut got)).await;
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"), "no plain answer on the TLS port");

    task.abort();
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// An open event stream leaves hyper after its head over TLS as over plain TCP (`server::serve`):
/// its events still come through rustls, and the end of its session still closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_over_tls_gets_its_events_and_ended_after_leaving_hyper() {
    let (dir, cert, key) = dev_cert();
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let (addr, task) = serve_tls(&server, &cert, &key).await;
    let mut ada = server.sign_up("Ada", "ada@example.com").await;
    let mut phone = server.browser();
    assert_eq!(phone.log_in("ada@example.com", PASSWORD, false).await.status, reqwest::StatusCode::OK);

    let tls = tls_connect(addr, &cert).await.expect("a TLS connection");
    let mut raw = RawStream::open(tls, "localhost", phone.cookie.as_deref().unwrap()).await;
    assert!(raw.head.starts_with("HTTP/1.0 200 OK\r\n"), "{}", raw.head);
    raw.read_until("event: sessions").await;
    let id = phone.session_id().await;
    assert_eq!(ada.call("end_session", &[("id", id.as_str())]).await.status, reqwest::StatusCode::OK);
    raw.read_until("event: ended\ndata: {\"reason\":\"ended_by_user\"}\n\n").await;
    raw.expect_closed().await;

    task.abort();
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_missing_or_unusable_certificate_is_refused_with_its_path() {
    let (dir, cert, key) = dev_cert();
    let missing = dir.join("nope.pem");
    let err = server::tls::acceptor(&missing, &key).err().expect("refused").to_string();
    assert!(err.contains("nope.pem"), "{err}");
    // A certificate where the key should be.
    let err = server::tls::acceptor(&cert, &cert).err().expect("refused").to_string();
    assert!(err.contains("private key"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
