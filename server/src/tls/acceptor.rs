//! The client port's TLS: a rustls server configuration built from ZooKeeper's
//! `ssl.*` settings, replaced without a restart when the store files change.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::client_verifier::ClientVerifier;
use super::store::{self, StoreType};
use crate::config::{ClientAuth, ClientTls, StoreSettings, TlsVersion};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{at}: {key}: {message}")]
    Setting {
        at: crate::config::Origin,
        key: String,
        message: String,
    },
    #[error("TLS settings: {0}")]
    Rustls(String),
}

fn setting(store: &StoreSettings, message: impl Into<String>) -> TlsError {
    TlsError::Setting {
        at: store.origin.clone(),
        key: store.key.clone(),
        message: message.into(),
    }
}

fn store_type(store: &StoreSettings) -> Result<StoreType, TlsError> {
    match &store.kind {
        Some(kind) => StoreType::parse(kind).map_err(|e| setting(store, e.to_string())),
        None => StoreType::from_path(&store.location).map_err(|e| setting(store, e.to_string())),
    }
}

/// Java's (IANA) cipher suite name for a rustls suite.
fn java_name(suite: rustls::CipherSuite) -> Option<String> {
    let name = suite.as_str()?;
    Some(match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name.to_owned(),
    })
}

/// The crypto provider with `ssl.ciphersuites` applied: suites rustls does not have
/// (CBC, RSA key exchange...) are left out with a warning, never replaced by others;
/// a list with none rustls has stops start-up.
fn provider(tls: &ClientTls) -> Result<CryptoProvider, TlsError> {
    // ring builds with the C compiler alone (aws-lc needs more of a toolchain); the
    // post-quantum key exchange it lacks is not something ZooKeeper's TLS offers either.
    #[allow(deprecated)]
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some((names, at, key)) = &tls.cipher_suites {
        let available = provider.cipher_suites.clone();
        provider.cipher_suites = names
            .iter()
            .filter_map(|name| {
                let suite = available
                    .iter()
                    .find(|s| java_name(s.suite()).as_deref() == Some(name.as_str()));
                if suite.is_none() {
                    tracing::warn!(
                        "{at}: {key}: {name} is not available in ferrokeeper's TLS library; \
                         it is not offered"
                    );
                }
                suite.copied()
            })
            .collect();
        if provider.cipher_suites.is_empty() {
            return Err(TlsError::Setting {
                at: at.clone(),
                key: key.clone(),
                message: format!(
                    "none of these cipher suites is available; ferrokeeper offers {}",
                    available
                        .iter()
                        .filter_map(|s| java_name(s.suite()))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            });
        }
    }
    Ok(provider)
}

/// Builds the server configuration from the stores as they are now.
pub fn server_config(tls: &ClientTls) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(provider(tls)?);
    let key_store = &tls.key_store;
    let identity = store::load_key_store(
        &key_store.location,
        key_store.password.as_deref(),
        store_type(key_store)?,
    )
    .map_err(|e| setting(key_store, e.to_string()))?;

    // Only the versions the remaining cipher suites can speak.
    let versions: Vec<&'static SupportedProtocolVersion> = tls
        .versions
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .filter(|v| provider.cipher_suites.iter().any(|s| s.version() == *v))
        .collect();
    if versions.is_empty() {
        return Err(TlsError::Rustls(
            "no cipher suite left for the enabled TLS versions (ssl.ciphersuites, \
             ssl.enabledProtocols)"
                .into(),
        ));
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;

    let verifier = match (&tls.trust_store, tls.client_auth) {
        (_, ClientAuth::None) | (None, _) => WebPkiClientVerifier::no_client_auth(),
        (Some(trust), auth) => {
            let anchors = store::load_trust_store(
                &trust.location,
                trust.password.as_deref(),
                store_type(trust)?,
            )
            .map_err(|e| setting(trust, e.to_string()))?
            .roots;
            let mut roots = RootCertStore::empty();
            for cert in &anchors {
                roots.add(cert.clone()).map_err(|e| {
                    setting(trust, format!("a trusted certificate is not usable: {e}"))
                })?;
            }
            let mut builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            if auth == ClientAuth::Want {
                builder = builder.allow_unauthenticated();
            }
            let inner = builder.build().map_err(|e| setting(trust, e.to_string()))?;
            Arc::new(ClientVerifier::new(
                inner,
                anchors,
                provider.signature_verification_algorithms,
            ))
        }
    };
    let signing_key = provider
        .key_provider
        .load_private_key(identity.key)
        .map_err(|e| setting(key_store, format!("the private key is not usable: {e}")))?;
    if let (Some(leaf), Some(key)) = (identity.chain.first(), signing_key.public_key())
        && !leaf_has_key(leaf, &key)
    {
        return Err(setting(
            key_store,
            "the private key does not belong to the first certificate",
        ));
    }
    let certified = Arc::new(CertifiedKey::new(identity.chain, signing_key));
    Ok(builder
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(FixedCertificate(certified))))
}

/// Whether the certificate `leaf` carries the public key `key`. Compared by hand rather
/// than by rustls, whose check parses the certificate with WebPKI and so refuses the
/// version 1 certificates Java serves without complaint.
fn leaf_has_key(leaf: &[u8], key: &rustls::pki_types::SubjectPublicKeyInfoDer<'_>) -> bool {
    use x509_parser::prelude::{FromDer, X509Certificate};
    X509Certificate::from_der(leaf).is_ok_and(|(_, cert)| cert.public_key().raw == key.as_ref())
}

/// Serves the one certificate chain of the key store, whatever the client asks for (as
/// a JVM with one key entry does).
#[derive(Debug)]
struct FixedCertificate(Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// The current TLS configuration of the client port, replaced when the stores change.
pub struct ClientTlsAcceptor {
    settings: ClientTls,
    current: RwLock<TlsAcceptor>,
}

impl std::fmt::Debug for ClientTlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTlsAcceptor")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ClientTlsAcceptor {
    /// Reads the stores; an error names the setting and the file.
    pub fn new(settings: ClientTls) -> Result<Arc<Self>, TlsError> {
        let config = server_config(&settings)?;
        Ok(Arc::new(ClientTlsAcceptor {
            settings,
            current: RwLock::new(TlsAcceptor::from(Arc::new(config))),
        }))
    }

    pub fn settings(&self) -> &ClientTls {
        &self.settings
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn files(&self) -> Vec<PathBuf> {
        std::iter::once(&self.settings.key_store)
            .chain(&self.settings.trust_store)
            .map(|s| s.location.clone())
            .collect()
    }

    /// Watches the store files and rebuilds the configuration when one changes. New
    /// connections get the new certificates; open ones keep theirs. A change that does
    /// not load (a half-written file, a wrong password) is logged and the previous
    /// configuration stays.
    pub async fn reload_on_change(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        let files = self.files();
        let mut seen = stamps(&files);
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.cancelled() => return,
            }
            let now = stamps(&files);
            if now == seen {
                continue;
            }
            seen = now;
            match server_config(&self.settings) {
                Ok(config) => {
                    *self.current.write().unwrap_or_else(|p| p.into_inner()) =
                        TlsAcceptor::from(Arc::new(config));
                    tracing::info!("client TLS: reloaded the key and trust stores");
                }
                Err(e) => {
                    tracing::error!(
                        "client TLS: changed stores do not load; keeping the previous ones: {e}"
                    );
                }
            }
        }
    }
}

/// What tells a changed file: modification time and length (a rename over the file, as
/// Kubernetes does with secrets, changes both or at least the time).
fn stamps(files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    files.iter().map(|f| stamp(f)).collect()
}

fn stamp(file: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(file).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
