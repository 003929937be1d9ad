//! What the client port and the quorum port build their TLS from: the crypto provider
//! with `ciphersuites` applied, the enabled versions, this server's certificate and key
//! from its key store, and the trusted certificates from its trust store.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, SupportedProtocolVersion};

use super::client_verifier::ClientVerifier;
use super::store::{self, StoreType};
use crate::config::{Origin, StoreSettings, TlsVersion};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{at}: {key}: {message}")]
    Setting {
        at: Origin,
        key: String,
        message: String,
    },
    #[error("TLS settings: {0}")]
    Rustls(String),
}

pub(super) fn setting(store: &StoreSettings, message: impl Into<String>) -> TlsError {
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
pub(super) fn provider(
    cipher_suites: &Option<(Vec<String>, Origin, String)>,
) -> Result<CryptoProvider, TlsError> {
    // ring builds with the C compiler alone (aws-lc needs more of a toolchain); the
    // post-quantum key exchange it lacks is not something ZooKeeper's TLS offers either.
    #[allow(deprecated)]
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some((names, at, key)) = cipher_suites {
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

/// The versions of `wanted` that the provider's remaining cipher suites can speak.
pub(super) fn versions(
    provider: &CryptoProvider,
    wanted: &[TlsVersion],
) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    let versions: Vec<&'static SupportedProtocolVersion> = wanted
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .filter(|v| provider.cipher_suites.iter().any(|s| s.version() == *v))
        .collect();
    if versions.is_empty() {
        return Err(TlsError::Rustls(
            "no cipher suite left for the enabled TLS versions (ciphersuites, \
             enabledProtocols)"
                .into(),
        ));
    }
    Ok(versions)
}

/// This server's certificate chain and key, from `key_store`.
pub(super) fn identity(
    key_store: &StoreSettings,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let identity = store::load_key_store(
        &key_store.location,
        key_store.password.as_deref(),
        store_type(key_store)?,
    )
    .map_err(|e| setting(key_store, e.to_string()))?;
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
    Ok(Arc::new(CertifiedKey::new(identity.chain, signing_key)))
}

/// The trusted certificates of `trust_store`, as given and as a root store.
pub(super) fn trust(
    trust_store: &StoreSettings,
) -> Result<(Vec<CertificateDer<'static>>, RootCertStore), TlsError> {
    let anchors = store::load_trust_store(
        &trust_store.location,
        trust_store.password.as_deref(),
        store_type(trust_store)?,
    )
    .map_err(|e| setting(trust_store, e.to_string()))?
    .roots;
    let mut roots = RootCertStore::empty();
    for cert in &anchors {
        roots.add(cert.clone()).map_err(|e| {
            setting(
                trust_store,
                format!("a trusted certificate is not usable: {e}"),
            )
        })?;
    }
    Ok((anchors, roots))
}

/// A verifier of the certificates peers or clients present, by `trust_store`;
/// `optional`: a client without one is let through (`ssl.clientAuth=want`).
pub(super) fn client_verifier(
    trust_store: &StoreSettings,
    provider: &Arc<CryptoProvider>,
    optional: bool,
) -> Result<Arc<ClientVerifier>, TlsError> {
    let (anchors, roots) = trust(trust_store)?;
    let mut builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    if optional {
        builder = builder.allow_unauthenticated();
    }
    let inner = builder
        .build()
        .map_err(|e| setting(trust_store, e.to_string()))?;
    Ok(Arc::new(ClientVerifier::new(
        inner,
        anchors,
        provider.signature_verification_algorithms,
    )))
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
pub(super) struct FixedCertificate(pub(super) Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}
