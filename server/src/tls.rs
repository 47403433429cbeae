//! HTTPS of its own (`--tls-cert`, `--tls-key`): rustls with its `ring` provider (pure Rust and
//! assembly; `aws-lc` would need cmake and a C toolchain). Without the two flags the server
//! speaks plain HTTP, for deployments behind a proxy that terminates TLS.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate {path}: {source}")]
    Certificate { path: String, source: rustls::pki_types::pem::Error },
    #[error("the TLS certificate file {0} holds no certificate")]
    NoCertificate(String),
    #[error("cannot read the TLS private key {path}: {source}")]
    Key { path: String, source: rustls::pki_types::pem::Error },
    #[error("the TLS certificate and key cannot be used: {0}")]
    Config(#[from] rustls::Error),
}

/// The acceptor for the PEM certificate chain and private key at these paths.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let shown = |p: &Path| p.display().to_string();
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Certificate { path: shown(cert), source })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(shown(cert)));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key { path: shown(key), source })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    // The serving loop speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
