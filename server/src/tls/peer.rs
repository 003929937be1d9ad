//! TLS between the servers of an ensemble (`sslQuorum`, `ssl.quorum.*`): mutual
//! authentication, as ZooKeeper's quorum TLS does it. Both ends present their key
//! store's certificate and accept only certificates their trust store vouches for; with
//! `ssl.quorum.hostnameVerification` (the default) a peer's certificate must also name
//! the host its `server.N` line gives, whichever end opened the connection.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, ServerConfig, SignatureScheme,
};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_util::sync::CancellationToken;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::build::{self, FixedCertificate, TlsError};
use crate::config::QuorumTls;

struct Configs {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

/// The quorum port's TLS, replaced when the stores change (`sslQuorumReloadCertFiles`).
pub struct PeerTls {
    settings: QuorumTls,
    current: RwLock<Configs>,
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTls")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn configs(tls: &QuorumTls) -> Result<Configs, TlsError> {
    let provider = Arc::new(build::provider(&tls.cipher_suites)?);
    let identity = build::identity(&tls.key_store, &provider)?;
    let versions = build::versions(&provider, &tls.versions)?;
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_client_cert_verifier(build::client_verifier(&tls.trust_store, &provider, false)?)
        .with_cert_resolver(Arc::new(FixedCertificate(identity.clone())));
    let (_, roots) = build::trust(&tls.trust_store)?;
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| build::setting(&tls.trust_store, e.to_string()))?;
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PeerServerVerifier {
            inner: webpki,
            check_name: tls.hostname_verification,
        }))
        .with_client_cert_resolver(Arc::new(FixedClientCertificate(identity)));
    Ok(Configs {
        acceptor: TlsAcceptor::from(Arc::new(server)),
        connector: TlsConnector::from(Arc::new(client)),
    })
}

impl PeerTls {
    /// Reads the stores; an error names the setting and the file.
    pub fn new(settings: QuorumTls) -> Result<Arc<Self>, TlsError> {
        let current = RwLock::new(configs(&settings)?);
        Ok(Arc::new(PeerTls { settings, current }))
    }

    /// Whether this server opens its peer connections with TLS (`sslQuorum`).
    pub fn connects_with_tls(&self) -> bool {
        self.settings.connect_with_tls
    }

    /// Whether the quorum port also takes plain peers (`portUnification`).
    pub fn accepts_plain(&self) -> bool {
        self.settings.accept_plain
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .acceptor
            .clone()
    }

    pub fn connector(&self) -> TlsConnector {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .connector
            .clone()
    }

    /// Whether `chain` (what a peer that connected to us presented) may be the server
    /// whose `server.N` line names `host`.
    pub fn peer_is(&self, chain: Option<&[CertificateDer<'_>]>, host: &str) -> bool {
        if !self.settings.hostname_verification {
            return true;
        }
        chain
            .and_then(<[_]>::first)
            .is_some_and(|leaf| names_host(leaf, host))
    }

    pub fn reloads(&self) -> bool {
        self.settings.reload
    }

    pub async fn reload_on_change(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        let files: Vec<PathBuf> = [&self.settings.key_store, &self.settings.trust_store]
            .iter()
            .map(|s| s.location.clone())
            .collect();
        super::reload::on_change(&files, every, stop, "quorum TLS", || {
            let configs = configs(&self.settings)?;
            *self.current.write().unwrap_or_else(|p| p.into_inner()) = configs;
            Ok(())
        })
        .await;
    }
}

/// Whether the certificate `der` is valid for `host` (an IP address or a DNS name): by
/// its subject alternative names, or, without any, by its common name, as ZooKeeper's
/// `ZKHostnameVerifier` decides. A DNS wildcard covers exactly one leftmost label.
pub fn names_host(der: &[u8], host: &str) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: Option<IpAddr> = host.parse().ok();
    let dns_matches = |pattern: &str| {
        let (pattern, host) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
        match pattern.strip_prefix("*.") {
            Some(rest) => host
                .split_once('.')
                .is_some_and(|(label, domain)| !label.is_empty() && domain == rest),
            None => pattern == host,
        }
    };
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        return san.value.general_names.iter().any(|name| match (name, ip) {
            (GeneralName::IPAddress(bytes), Some(IpAddr::V4(v4))) => *bytes == v4.octets(),
            (GeneralName::IPAddress(bytes), Some(IpAddr::V6(v6))) => *bytes == v6.octets(),
            (GeneralName::DNSName(name), None) => dns_matches(name),
            _ => false,
        });
    }
    cert.subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .any(|cn| match ip {
            Some(ip) => cn.parse::<IpAddr>().is_ok_and(|c| c == ip),
            None => dns_matches(cn),
        })
}

/// WebPKI's check of a peer's certificate, with the name check left out when
/// `ssl.quorum.hostnameVerification=false` (the chain is always checked).
#[derive(Debug)]
struct PeerServerVerifier {
    inner: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for PeerServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// This server's certificate, presented to every peer it connects to.
#[derive(Debug)]
struct FixedClientCertificate(Arc<CertifiedKey>);

impl ResolvesClientCert for FixedClientCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn host_names_as_zookeeper_checks_them() {
        // testdata/server.pem: issued for localhost and 127.0.0.1 (see its README).
        let der =
            CertificateDer::from_pem_slice(include_bytes!("testdata/server.pem")).expect("fixture");
        let names: Vec<String> = X509Certificate::from_der(&der)
            .ok()
            .and_then(|(_, c)| {
                c.subject_alternative_name()
                    .ok()
                    .flatten()
                    .map(|s| format!("{:?}", s.value))
            })
            .into_iter()
            .collect();
        assert!(names_host(&der, "127.0.0.1"), "{names:?}");
        assert!(names_host(&der, "localhost"));
        assert!(names_host(&der, "LOCALHOST"));
        assert!(!names_host(&der, "127.0.0.2"));
        assert!(!names_host(&der, "otherhost"));
        assert!(!names_host(b"garbage", "localhost"));
    }
}
