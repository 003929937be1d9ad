//! TLS for client connections ([`ClientBuilder::tls`](crate::ClientBuilder::tls)), as
//! ZooKeeper's Java client does it with `zookeeper.client.secure=true`: the server's
//! certificate chain is checked against the given CA certificates and its name against
//! the host being connected to (`zookeeper.ssl.hostnameVerification`, on by default),
//! and a client certificate is presented when one is configured (a server with
//! `ssl.clientAuth=need`, ZooKeeper's default, refuses clients without one).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ferrokeeper_client::Client;
//! use ferrokeeper_client::tls::TlsConfig;
//!
//! let tls = TlsConfig::builder()
//!     .ca_file("/etc/zookeeper/ca.pem")
//!     .client_cert_files("/etc/zookeeper/client.pem", "/etc/zookeeper/client.key")
//!     .build()?;
//! let client = Client::builder()
//!     .tls(tls)
//!     .connect("zk1.example.com:2281,zk2.example.com:2281")
//!     .await?;
//! # let _ = client;
//! # Ok(())
//! # }
//! ```
//!
//! Certificates and keys are PEM: the CA file may hold several certificates (each one
//! trusted), the client certificate file holds the client's certificate first and then
//! any intermediates, the key file an unencrypted PKCS#8, PKCS#1 (RSA) or SEC1 (EC)
//! key. Java key stores (JKS, PKCS#12) are not read: convert them with
//! `keytool -importkeystore -deststoretype PKCS12` and `openssl pkcs12 -nodes`.
//!
//! TLS 1.2 and 1.3 with rustls' default cipher suites (the `ring` provider). The
//! server's certificate must be an X.509 **version 3** certificate (what every CA and
//! `openssl req -x509` make): rustls' WebPKI verifier refuses version 1 certificates,
//! which Java accepts. Version 1 client certificates are fine (the server checks them).
//! There is no revocation checking (CRL, OCSP), as in ZooKeeper's default
//! (`ssl.crl=false`, `ssl.ocsp=false`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The rustls this crate is built with, for [`TlsConfig::from_rustls`].
pub use rustls;

/// Why a [`TlsConfig`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: not valid PEM: {why}")]
    Pem { what: String, why: String },
    #[error("{what}: no certificate in it (PEM `BEGIN CERTIFICATE` expected)")]
    NoCertificate { what: String },
    #[error("{what}: no private key in it (unencrypted PKCS#8, PKCS#1 or SEC1 PEM expected)")]
    NoKey { what: String },
    #[error("{what}: the private key is encrypted; give an unencrypted one")]
    EncryptedKey { what: String },
    #[error("{what}: CA certificate {index} cannot be used: {why}")]
    BadCa {
        what: String,
        index: usize,
        why: String,
    },
    #[error("no CA certificate: the server's certificate cannot be checked (set a CA file)")]
    NoCa,
    #[error("{0:?} is not a valid TLS server name (a DNS name or an IP address)")]
    ServerName(String),
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS certificate verifier: {0}")]
    Verifier(String),
}

/// Where some PEM comes from.
#[derive(Clone)]
enum Pem {
    File(PathBuf),
    Memory(Vec<u8>),
}

impl Pem {
    /// A name for error messages, and the bytes.
    fn load(&self, kind: &str) -> Result<(String, Vec<u8>), TlsError> {
        match self {
            Pem::File(path) => {
                let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
                    path: path.clone(),
                    source,
                })?;
                Ok((path.display().to_string(), bytes))
            }
            Pem::Memory(bytes) => Ok((format!("the {kind} PEM"), bytes.clone())),
        }
    }
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pem::File(path) => write!(f, "{}", path.display()),
            Pem::Memory(_) => f.write_str("<in memory>"),
        }
    }
}

/// Settings for [`TlsConfig`]; start from [`TlsConfig::builder`].
#[derive(Clone, Debug)]
pub struct TlsConfigBuilder {
    cas: Vec<Pem>,
    client: Option<(Pem, Pem)>,
    server_name: Option<String>,
    hostname_verification: bool,
}

impl TlsConfigBuilder {
    /// Trusts the CA certificates of a PEM file (ZooKeeper's
    /// `zookeeper.ssl.trustStore.location`, in PEM). Can be called more than once. At
    /// least one CA is needed.
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> Self {
        self.cas.push(Pem::File(path.as_ref().to_owned()));
        self
    }

    /// Trusts the CA certificates of PEM text already in memory.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.cas.push(Pem::Memory(pem.into()));
        self
    }

    /// Presents this certificate chain (PEM, the client's certificate first) and proves
    /// it owns it with this private key (PEM) — ZooKeeper's
    /// `zookeeper.ssl.keyStore.location`. The server then knows the session as
    /// `x509:<the certificate's subject>`.
    pub fn client_cert_files(mut self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        self.client = Some((
            Pem::File(cert.as_ref().to_owned()),
            Pem::File(key.as_ref().to_owned()),
        ));
        self
    }

    /// [`TlsConfigBuilder::client_cert_files`] with PEM text already in memory.
    pub fn client_cert_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.client = Some((Pem::Memory(cert.into()), Pem::Memory(key.into())));
        self
    }

    /// The name the server's certificate must carry (and the SNI sent), instead of the
    /// host of each connect-string entry. Useful when connecting by an address the
    /// certificate does not name; with several servers, each certificate must then carry
    /// this one name.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Whether the server's certificate must name the host connected to (or
    /// [`TlsConfigBuilder::server_name`]); default true, as ZooKeeper's
    /// `zookeeper.ssl.hostnameVerification`. False still checks the chain, dates and key
    /// usage against the CAs, so any certificate those CAs issued for a server is
    /// accepted for every server: use it only with a CA dedicated to the ensemble.
    pub fn hostname_verification(mut self, verify: bool) -> Self {
        self.hostname_verification = verify;
        self
    }

    /// Reads the files and builds the configuration.
    pub fn build(self) -> Result<TlsConfig, TlsError> {
        // ring, as the server: it builds with the C compiler alone. Its lack of
        // post-quantum key exchange (hence the deprecation) is shared by ZooKeeper's TLS.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for ca in &self.cas {
            let (what, bytes) = ca.load("CA")?;
            let certs = certificates(&what, &bytes)?;
            for (index, cert) in certs.into_iter().enumerate() {
                roots.add(cert).map_err(|e| TlsError::BadCa {
                    what: what.clone(),
                    index: index + 1,
                    why: e.to_string(),
                })?;
            }
        }
        if roots.is_empty() {
            return Err(TlsError::NoCa);
        }
        let server_name = self
            .server_name
            .map(|name| ServerName::try_from(name.clone()).map_err(|_| TlsError::ServerName(name)))
            .transpose()?;
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
        let verifier: Arc<dyn ServerCertVerifier> = if self.hostname_verification {
            webpki
        } else {
            Arc::new(AnyServerName(webpki))
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &self.client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let (cert_what, cert_bytes) = cert.load("client certificate")?;
                let chain = certificates(&cert_what, &cert_bytes)?;
                let (key_what, key_bytes) = key.load("client key")?;
                let key = private_key(&key_what, &key_bytes)?;
                builder.with_client_auth_cert(chain, key)?
            }
        };
        Ok(TlsConfig {
            config: Arc::new(config),
            server_name,
        })
    }
}

/// Every certificate of a PEM text (other sections are skipped); at least one.
fn certificates(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what: what.to_owned(),
            why: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            what: what.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key of a PEM text.
fn private_key(what: &str, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    use rustls_pki_types::pem::Error;
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(key) => Ok(key),
        Err(Error::NoItemsFound) => {
            let encrypted = pem.windows(b"ENCRYPTED".len()).any(|w| w == b"ENCRYPTED");
            Err(if encrypted {
                TlsError::EncryptedKey {
                    what: what.to_owned(),
                }
            } else {
                TlsError::NoKey {
                    what: what.to_owned(),
                }
            })
        }
        Err(e) => Err(TlsError::Pem {
            what: what.to_owned(),
            why: e.to_string(),
        }),
    }
}

/// The WebPKI verifier without the name check (which rustls makes last, after the
/// chain, dates and key usage: a name error means everything else was fine).
#[derive(Debug)]
struct AnyServerName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyServerName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// How to secure connections with TLS; give it to
/// [`ClientBuilder::tls`](crate::ClientBuilder::tls). Cheap to clone. Built by
/// [`TlsConfig::builder`] (PEM files) or from a rustls configuration
/// ([`TlsConfig::from_rustls`]).
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server_name", &self.server_name)
            .field(
                "client_cert",
                &self.config.client_auth_cert_resolver.has_certs(),
            )
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Hostname verification on, no CA and no client certificate yet.
    pub fn builder() -> TlsConfigBuilder {
        TlsConfigBuilder {
            cas: Vec::new(),
            client: None,
            server_name: None,
            hostname_verification: true,
        }
    }

    /// Uses a rustls configuration as it is (its verifier, client certificate, versions
    /// and provider); `server_name` as in [`TlsConfigBuilder::server_name`].
    pub fn from_rustls(
        config: Arc<ClientConfig>,
        server_name: Option<ServerName<'static>>,
    ) -> Self {
        TlsConfig {
            config,
            server_name,
        }
    }

    /// The name to verify and send for `host` (`name:port` or `[v6]:port`).
    fn server_name_for(&self, host: &str) -> Result<ServerName<'static>, String> {
        if let Some(name) = &self.server_name {
            return Ok(name.clone());
        }
        let name = match host.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map_or(rest, |(addr, _)| addr),
            None => host.rsplit_once(':').map_or(host, |(name, _)| name),
        };
        ServerName::try_from(name.to_owned())
            .map_err(|_| format!("{name:?} is not a valid TLS server name"))
    }

    /// The TLS handshake over `tcp`, to `host` (`name:port`).
    pub(crate) async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, String> {
        let name = self.server_name_for(host)?;
        TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| describe(&e))
    }
}

/// The rustls error inside an I/O error, if that is what it is.
pub(crate) fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// What went wrong in TLS terms, with a hint for the usual mistakes.
pub(crate) fn describe(e: &std::io::Error) -> String {
    use rustls::AlertDescription as Alert;
    let Some(tls) = rustls_error(e) else {
        let hint = match e.kind() {
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
                " (the server hung up: is this its TLS port?)"
            }
            _ => "",
        };
        return format!("TLS handshake: {e}{hint}");
    };
    let hint = match tls {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            " (the server's certificate was not issued by a trusted CA)"
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => " (set the server name the certificate carries, or turn hostname verification off)",
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if other.to_string().contains("UnsupportedCertVersion") =>
        {
            " (the server's certificate is X.509 version 1; version 3 is needed)"
        }
        rustls::Error::AlertReceived(Alert::CertificateRequired) => {
            " (the server needs a client certificate)"
        }
        rustls::Error::AlertReceived(
            Alert::BadCertificate | Alert::UnknownCA | Alert::HandshakeFailure,
        ) => " (the server may have refused the client certificate, or have none)",
        _ => "",
    };
    format!("TLS: {tls}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA certificate (no key kept), for building configurations.
    const CA: &str = "-----BEGIN CERTIFICATE-----
MIIBqjCCAVGgAwIBAgIUIUfLVfavrNlgtUAyUz80uCgSTI0wCgYIKoZIzj0EAwIw
KjEoMCYGA1UEAwwfZmVycm9rZWVwZXItY2xpZW50IHVuaXQgdGVzdCBDQTAgFw0y
NjEyMDcwNDIwNDhaGA8yMTI2MTExMzA0MjA0OFowKjEoMCYGA1UEAwwfZmVycm9r
ZWVwZXItY2xpZW50IHVuaXQgdGVzdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABLDFGjDB0IlsfaIzvwhGH3cMmy1Hi8TUv10bO60awpVk2mDvXD6rM+ohcQKT
tuODZDAgbNN50Ovch+t1lqUAAsyjUzBRMB0GA1UdDgQWBBRj2P+BoiralFGFxi+u
zJ2mPN+nxzAfBgNVHSMEGDAWgBRj2P+BoiralFGFxi+uzJ2mPN+nxzAPBgNVHRMB
Af8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIBxOsoonoiFYCCK6s5BgtDsMkQqz
K60O0qFDYpAahgBoAiBmmTKoBf2cq4NLtwvXQNTnTXO3PwAIiS45c5jCxOErlQ==
-----END CERTIFICATE-----
";

    #[test]
    fn configuration_errors_say_what_is_wrong() {
        assert!(matches!(TlsConfig::builder().build(), Err(TlsError::NoCa)));
        let missing = TlsConfig::builder().ca_file("/nonexistent/ca.pem").build();
        assert!(
            matches!(&missing, Err(TlsError::Read { path, .. }) if path.ends_with("ca.pem")),
            "{missing:?}"
        );
        assert!(matches!(
            TlsConfig::builder().ca_pem("not pem").build(),
            Err(TlsError::NoCertificate { .. })
        ));
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(matches!(
            TlsConfig::builder()
                .ca_pem(CA)
                .client_cert_pem(CA, encrypted)
                .build(),
            Err(TlsError::EncryptedKey { .. })
        ));
        assert!(matches!(
            TlsConfig::builder()
                .ca_pem(CA)
                .client_cert_pem(CA, CA)
                .build(),
            Err(TlsError::NoKey { .. })
        ));
        assert!(matches!(
            TlsConfig::builder()
                .ca_pem(CA)
                .server_name("not a name!")
                .build(),
            Err(TlsError::ServerName(_))
        ));
    }

    #[test]
    fn server_names_come_from_the_host() {
        let tls = TlsConfig::builder().ca_pem(CA).build().expect("config");
        let name = |host: &str| tls.server_name_for(host).map(|n| n.to_str().into_owned());
        assert_eq!(
            name("zk1.example.com:2281").as_deref(),
            Ok("zk1.example.com")
        );
        assert_eq!(name("127.0.0.1:2281").as_deref(), Ok("127.0.0.1"));
        assert_eq!(name("[::1]:2281").as_deref(), Ok("::1"));
        assert!(name("bad_name!:2281").is_err());
        let fixed = TlsConfig::builder()
            .ca_pem(CA)
            .server_name("zk.internal")
            .build()
            .expect("config");
        assert_eq!(
            fixed
                .server_name_for("127.0.0.2:2281")
                .map(|n| n.to_str().into_owned()),
            Ok("zk.internal".to_owned())
        );
        let shown = format!("{fixed:?}");
        assert!(shown.contains("zk.internal"), "{shown}");
    }
}
