//! Checks client certificates. Version 3 certificates go to rustls' WebPKI verifier
//! unchanged. Version 1 certificates, which WebPKI refuses but Java's PKIX (and so
//! ZooKeeper) accepts, are still common in test and older deployments (kazoo's own
//! test harness issues them): one is accepted when a trust anchor of the trust store
//! signed it directly and it is within its validity period. Nothing else is relaxed:
//! a v1 certificate carries no extensions that could narrow its use, as in Java.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
use x509_parser::prelude::{FromDer, X509Certificate, X509Version};

#[derive(Debug)]
pub struct ClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    /// The trust store's certificates, DER, for v1 client certificates.
    anchors: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientVerifier {
    pub fn new(
        inner: Arc<dyn ClientCertVerifier>,
        anchors: Vec<CertificateDer<'static>>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        ClientVerifier {
            inner,
            anchors,
            algorithms,
        }
    }
}

fn bad(e: CertificateError) -> Error {
    Error::InvalidCertificate(e)
}

/// A parsed version 1 certificate, or `None` for any other version (or garbage, which
/// WebPKI then refuses with its own error).
fn v1(der: &[u8]) -> Option<X509Certificate<'_>> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    (cert.version() == X509Version::V1).then_some(cert)
}

impl ClientVerifier {
    fn verify_v1(&self, leaf: &X509Certificate<'_>, now: UnixTime) -> Result<(), Error> {
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        let validity = leaf.validity();
        if now < validity.not_before.timestamp() {
            return Err(bad(CertificateError::NotValidYet));
        }
        if now > validity.not_after.timestamp() {
            return Err(bad(CertificateError::Expired));
        }
        let signed_by_anchor = self.anchors.iter().any(|der| {
            X509Certificate::from_der(der).is_ok_and(|(_, anchor)| {
                anchor.subject().as_raw() == leaf.issuer().as_raw()
                    && leaf.verify_signature(Some(anchor.public_key())).is_ok()
            })
        });
        if signed_by_anchor {
            Ok(())
        } else {
            Err(bad(CertificateError::UnknownIssuer))
        }
    }

    /// The handshake signature of a v1 certificate's key: every algorithm rustls maps
    /// `scheme` to is tried with the raw key (a key of another type never verifies).
    fn verify_with_key(
        &self,
        message: &[u8],
        leaf: &X509Certificate<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let key = leaf.public_key().subject_public_key.data.as_ref();
        let verified = self
            .algorithms
            .mapping
            .iter()
            .filter(|(scheme, _)| *scheme == dss.scheme)
            .flat_map(|(_, algs)| algs.iter())
            .any(|alg| alg.verify_signature(key, message, dss.signature()).is_ok());
        if verified {
            Ok(HandshakeSignatureValid::assertion())
        } else {
            Err(bad(CertificateError::BadSignature))
        }
    }
}

/// The signature schemes TLS 1.3 allows in CertificateVerify (RFC 8446 §4.2.3: no
/// PKCS#1 v1.5, no SHA-1).
fn allowed_in_tls13(scheme: SignatureScheme) -> bool {
    matches!(
        scheme,
        SignatureScheme::ECDSA_NISTP256_SHA256
            | SignatureScheme::ECDSA_NISTP384_SHA384
            | SignatureScheme::ECDSA_NISTP521_SHA512
            | SignatureScheme::RSA_PSS_SHA256
            | SignatureScheme::RSA_PSS_SHA384
            | SignatureScheme::RSA_PSS_SHA512
            | SignatureScheme::ED25519
            | SignatureScheme::ED448
    )
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        match v1(end_entity) {
            Some(leaf) => self
                .verify_v1(&leaf, now)
                .map(|()| ClientCertVerified::assertion()),
            None => self
                .inner
                .verify_client_cert(end_entity, intermediates, now),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        match v1(cert) {
            Some(leaf) => self.verify_with_key(message, &leaf, dss),
            None => self.inner.verify_tls12_signature(message, cert, dss),
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        match v1(cert) {
            Some(leaf) if allowed_in_tls13(dss.scheme) => self.verify_with_key(message, &leaf, dss),
            Some(_) => Err(Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            )),
            None => self.inner.verify_tls13_signature(message, cert, dss),
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
