//! PKCS#12 key and trust stores, decoded by p12-keystore (pure Rust: PBES2 with AES,
//! and the legacy PBES1 3DES/RC2 of older keytool and OpenSSL), then read the way the
//! JDK's `PKCS12KeyStore` reads them:
//!
//! - a private key's certificate is the one with the same localKeyId (else the same
//!   friendly name); its chain continues through the issuers found among the file's
//!   certificates, by subject name, until a self-issued one;
//! - a *trusted* certificate is one whose bag carries Java's trusted-key-usage
//!   attribute (OID 2.16.840.1.113894.746875.1.1), which `keytool -importcert` writes.
//!   `openssl pkcs12 -export` does not write it (OpenSSL 3.2+ can, with `-jdktrust`),
//!   so Java, ZooKeeper and we trust none of the certificates of such a file.

use std::panic::{AssertUnwindSafe, catch_unwind};

use p12_keystore::{Certificate, CertificateBag, Pkcs12Archive, PrivateKeyBag};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::store::{KeyStore, StoreProblem, TrustStore};

const FORMAT: &str = "PKCS#12";

pub(super) fn key_store(data: &[u8], password: Option<&str>) -> Result<KeyStore, StoreProblem> {
    let archive = open(data, password)?;
    if archive.keys.is_empty() {
        return Err(StoreProblem::NoPrivateKey(
            "the PKCS#12 store holds no private key (is it a trust store?)".to_owned(),
        ));
    }
    let with_cert: Vec<(&PrivateKeyBag, &CertificateBag)> = archive
        .keys
        .iter()
        .filter_map(|key| Some((key, matching_certificate(key, &archive.certs)?)))
        .collect();
    let Some(&(key, leaf)) = with_cert.first() else {
        return Err(StoreProblem::NoCertificate(format!(
            "none of the {} private keys has a certificate (no certificate with the same \
             localKeyId or friendly name)",
            archive.keys.len()
        )));
    };
    let name = key
        .friendly_name
        .as_deref()
        .unwrap_or_else(|| leaf.cert.subject());
    if archive.keys.len() > 1 {
        // Java's key manager would choose by the peer's signature algorithms; a
        // deployment has one identity, so the first usable key in the file is the one.
        tracing::warn!(
            "the key store holds {} private keys; using the first with a certificate, {name:?}",
            archive.keys.len()
        );
    }
    let chain = chain(&leaf.cert, &archive.certs)
        .into_iter()
        .map(|cert| CertificateDer::from(cert.as_der().to_vec()))
        .collect();
    Ok(KeyStore {
        chain,
        // p12-keystore has checked that the decrypted key is PKCS#8.
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.key.as_der().to_vec())),
    })
}

pub(super) fn trust_store(data: &[u8], password: Option<&str>) -> Result<TrustStore, StoreProblem> {
    let archive = open(data, password)?;
    let roots: Vec<_> = archive
        .certs
        .iter()
        .filter(|bag| bag.trusted)
        .map(|bag| CertificateDer::from(bag.cert.as_der().to_vec()))
        .collect();
    if roots.is_empty() {
        return Err(StoreProblem::NoCertificate(if archive.certs.is_empty() {
            "the PKCS#12 store holds no certificate".to_owned()
        } else {
            "no certificate of the PKCS#12 store is marked trusted (Java's trusted-key-usage \
             attribute, which keytool -importcert writes and openssl pkcs12 -export does not), \
             so ZooKeeper would not trust them either: make the trust store with keytool \
             -importcert, or use a PEM trust store"
                .to_owned()
        }));
    }
    Ok(TrustStore { roots })
}

/// Decodes the file: checks its MAC with the password, decrypts its bags.
fn open(data: &[u8], password: Option<&str>) -> Result<Pkcs12Archive, StoreProblem> {
    // A PKCS#12 file without a password is almost unheard of (keytool and openssl both
    // encrypt and MAC with it); the empty password is what Java would use.
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        Pkcs12Archive::from_pkcs12(data, password.unwrap_or(""))
    }));
    match decoded {
        Ok(Ok(archive)) => Ok(archive),
        Ok(Err(e)) => Err(problem(e, password.is_some())),
        // The decoder trusts some parameters it reads from the file (an scrypt cost of
        // 0 in a MAC-less file makes pkcs5 panic); a hostile file must be an error.
        Err(_) => Err(StoreProblem::malformed(
            FORMAT,
            "the decoder failed on this file's encryption parameters",
        )),
    }
}

fn problem(error: p12_keystore::error::Error, have_password: bool) -> StoreProblem {
    use p12_keystore::error::Error as E;
    let wrong_password = |what: &str| {
        if have_password {
            StoreProblem::WrongPassword(format!(
                "{what}: the password is wrong, or the file was altered"
            ))
        } else {
            StoreProblem::PasswordRequired(
                "the PKCS#12 store is protected by a password: set ssl.keyStore.password or \
                 ssl.trustStore.password"
                    .to_owned(),
            )
        }
    };
    match error {
        E::MacError(_) => wrong_password("the PKCS#12 integrity check (MAC) failed"),
        // Reached only by MAC-less files, where a wrong password shows as bad padding
        // or as garbage where the key should be.
        E::UnpadError | E::Pkcs5Error(_) | E::InvalidPrivateKey => {
            wrong_password("the PKCS#12 contents do not decrypt")
        }
        E::UnsupportedEncryptionScheme
        | E::UnsupportedMacAlgorithm
        | E::UnsupportedContentType
        | E::UnsupportedCertificateType => StoreProblem::Unsupported(format!(
            "{error} in this PKCS#12 file (keytool and openssl pkcs12 -export write \
             supported ones)"
        )),
        E::InvalidParameters => StoreProblem::Unsupported(
            "PKCS#12 encryption or MAC parameters that are missing or beyond the decoder's \
             limits (at most 1,000,000 iterations, 1 GiB of scrypt memory)"
                .to_owned(),
        ),
        other => StoreProblem::malformed(FORMAT, other),
    }
}

/// Java's `findMatchedCertificate`: localKeyId first, else the friendly name.
fn matching_certificate<'a>(
    key: &PrivateKeyBag,
    certs: &'a [CertificateBag],
) -> Option<&'a CertificateBag> {
    let by_id = key.local_key_id.as_ref().and_then(|id| {
        certs
            .iter()
            .find(|bag| bag.local_key_id.as_deref() == Some(id.as_ref()))
    });
    by_id.or_else(|| {
        let name = key.friendly_name.as_deref()?;
        certs.iter().find(|bag| {
            bag.friendly_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    })
}

/// The leaf, then each issuer found by subject name, up to a self-issued certificate.
/// A certificate already in the chain ends it, so a cycle cannot loop; the chain can
/// hold each certificate of the file at most once.
fn chain<'a>(leaf: &'a Certificate, certs: &'a [CertificateBag]) -> Vec<&'a Certificate> {
    let mut chain = vec![leaf];
    let mut current = leaf;
    while current.subject() != current.issuer() {
        let issuer = certs
            .iter()
            .map(|bag| &bag.cert)
            .find(|cert| cert.subject() == current.issuer() && !chain.contains(cert));
        match issuer {
            Some(issuer) => {
                chain.push(issuer);
                current = issuer;
            }
            None => break,
        }
    }
    chain
}
