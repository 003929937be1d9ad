//! Key stores (our own certificate chain and private key) and trust stores (the
//! certificates we trust), read as ZooKeeper reads them for `ssl.keyStore.*` and
//! `ssl.trustStore.*`.
//!
//! ZooKeeper (`X509Util`, `KeyStoreFileType`, `FileKeyStoreLoaderBuilderProvider`)
//! takes the store type from `ssl.*.type` ("PEM", "PKCS12", "JKS", "BCFKS", any case)
//! or, when that is unset, from the file name's extension, then hands the file to
//! Java's `KeyStore` (JKS, PKCS12) or to its own `PemReader` (PEM). What we keep of
//! that behaviour, and why:
//!
//! - Java's "JKS" and "PKCS12" key stores each also read the other format (the JDK's
//!   `keystore.type.compat`, on by default), and since Java 9 `keytool` writes PKCS#12
//!   unless told otherwise, so many files called `*.jks` are PKCS#12. We look at the
//!   first bytes (JKS starts with 0xFEEDFEED) rather than trust the type.
//! - ZooKeeper builds its trust managers from `PKIXBuilderParameters(KeyStore)`, which
//!   takes only the *trusted certificate* entries of a store as trust anchors: not the
//!   certificates of private key entries, and not the PKCS#12 certificates that lack
//!   Java's trusted-key-usage attribute (e.g. those `openssl pkcs12 -export` writes).
//!   We trust exactly the same certificates; a store with none is an error here, as it
//!   is in ZooKeeper ("the trustAnchors parameter must be non-empty").
//! - ZooKeeper uses an unset password as the empty one. For PEM that means "the key is
//!   not encrypted"; for JKS and PKCS#12 Java then checks the store's integrity with the
//!   empty password and fails. We treat an empty password as none, and a JKS store read
//!   without a password is read unverified (as `keytool -list` does): only its trusted
//!   certificates are usable then, since its private keys are encrypted.
//!
//! Files come from users: nothing here panics or allocates more than the file's size on
//! a truncated or hostile file, and every error names the file and what is wrong.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{jks, pem, pkcs12};

/// Files larger than this are refused before they are read: real key and trust stores
/// are a few KiB (the JDK's whole `cacerts` is under 200 KiB), and the bound keeps a
/// mistyped path such as `/dev/zero` from filling memory.
pub const MAX_STORE_BYTES: u64 = 16 * 1024 * 1024;

/// The format of a key or trust store file: ZooKeeper's `KeyStoreFileType` without
/// BCFKS (Bouncy Castle's FIPS key store, which has no pure-Rust reader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    /// PEM text: a private key and its certificate chain in one file (key store), or
    /// CERTIFICATE blocks (trust store).
    Pem,
    /// PKCS#12 (`.p12`), as written by `keytool -storetype PKCS12` and `openssl pkcs12`.
    Pkcs12,
    /// Sun's JKS format (`.jks`). A PKCS#12 file is accepted too, as Java does.
    Jks,
}

impl StoreType {
    /// Parses a `ssl.keyStore.type` / `ssl.trustStore.type` value. Like ZooKeeper's
    /// `KeyStoreFileType.fromPropertyValue`, case does not matter; BCFKS, which ZooKeeper
    /// knows, is refused as unsupported rather than unknown.
    pub fn parse(s: &str) -> Result<StoreType, StoreError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PEM" => Ok(StoreType::Pem),
            "PKCS12" => Ok(StoreType::Pkcs12),
            "JKS" => Ok(StoreType::Jks),
            "BCFKS" => Err(StoreError::UnsupportedType(s.to_owned())),
            _ => Err(StoreError::UnknownType(s.to_owned())),
        }
    }

    /// The type ZooKeeper infers from a store's file name when `ssl.*.type` is unset
    /// (`KeyStoreFileType.fromFilename`): the text from the last '.' of the path must be
    /// exactly ".pem", ".p12" or ".jks" (case matters, as in ZooKeeper). ZooKeeper infers
    /// nothing from ".crt", ".key" or ".pfx", so neither do we: a configuration that works
    /// here then works on ZooKeeper too. A ".bcfks" file is refused as unsupported, which
    /// is why this returns an error rather than `None`.
    pub fn from_path(path: &Path) -> Result<StoreType, StoreError> {
        let name = path.to_string_lossy();
        let extension = name.rfind('.').map(|i| &name[i..]);
        match extension {
            Some(".pem") => Ok(StoreType::Pem),
            Some(".p12") => Ok(StoreType::Pkcs12),
            Some(".jks") => Ok(StoreType::Jks),
            Some(".bcfks") => Err(StoreError::UnsupportedType("BCFKS".to_owned())),
            _ => Err(StoreError::UnknownExtension(path.to_path_buf())),
        }
    }

    /// ZooKeeper's `fromPropertyValueOrFileName`: the `ssl.*.type` value when it is set
    /// and not empty, else the type the file name implies.
    pub fn resolve(type_value: Option<&str>, path: &Path) -> Result<StoreType, StoreError> {
        match type_value {
            Some(value) if !value.trim().is_empty() => StoreType::parse(value),
            _ => StoreType::from_path(path),
        }
    }

    /// The format's name in error messages.
    fn format_name(self) -> &'static str {
        match self {
            StoreType::Pem => "PEM",
            StoreType::Pkcs12 => "PKCS#12",
            StoreType::Jks => "JKS",
        }
    }
}

impl fmt::Display for StoreType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreType::Pem => "PEM",
            StoreType::Pkcs12 => "PKCS12",
            StoreType::Jks => "JKS",
        })
    }
}

/// Our own identity: the certificate chain (leaf first, as the file lists it) and its
/// private key. `Debug` does not show the key.
#[derive(Debug)]
pub struct KeyStore {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// The certificates we trust as roots when verifying a peer.
#[derive(Debug, Clone)]
pub struct TrustStore {
    pub roots: Vec<CertificateDer<'static>>,
}

/// Why a store type or a store file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A type ZooKeeper knows but we do not read (BCFKS).
    #[error(
        "store type {0:?} is not supported: ferrokeeper reads PEM, PKCS12 and JKS stores \
         (convert with keytool -importkeystore -deststoretype PKCS12)"
    )]
    UnsupportedType(String),
    /// A `ssl.*.type` value that is no store type at all.
    #[error("unknown store type {0:?}: expected PEM, PKCS12 or JKS")]
    UnknownType(String),
    /// No type was set and the file name does not tell it.
    #[error(
        "{}: cannot tell the store type from the file name (it does not end in .pem, .p12 \
         or .jks): set the matching ssl.*.type option",
        .0.display()
    )]
    UnknownExtension(PathBuf),
    /// The file could not be read or does not hold a usable store.
    #[error("{}: {problem}", path.display())]
    File {
        path: PathBuf,
        problem: StoreProblem,
    },
}

/// What is wrong with a store file (the [`StoreError::File`] detail).
#[derive(Debug, thiserror::Error)]
pub enum StoreProblem {
    #[error("no such file")]
    NotFound,
    #[error("cannot read: {0}")]
    Io(#[source] std::io::Error),
    #[error("the file is larger than {MAX_STORE_BYTES} bytes, which no key or trust store is")]
    TooLarge,
    /// The password does not open the store (or the file was altered).
    #[error("wrong password: {0}")]
    WrongPassword(String),
    /// The store (or its private key) is encrypted and no password was given.
    #[error("a password is needed: {0}")]
    PasswordRequired(String),
    #[error("no private key: {0}")]
    NoPrivateKey(String),
    #[error("no certificate: {0}")]
    NoCertificate(String),
    /// A well-formed store that uses something we do not read (JCEKS, an algorithm).
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("malformed {format}: {detail}")]
    Malformed {
        format: &'static str,
        detail: String,
    },
}

impl StoreProblem {
    pub(super) fn malformed(format: &'static str, detail: impl fmt::Display) -> Self {
        StoreProblem::Malformed {
            format,
            detail: detail.to_string(),
        }
    }
}

/// Reads our identity (certificate chain and private key) from a key store.
/// `password` is `ssl.keyStore.password`; an empty one counts as none.
pub fn load_key_store(
    path: &Path,
    password: Option<&str>,
    kind: StoreType,
) -> Result<KeyStore, StoreError> {
    let _span = tracing::info_span!("key_store", path = %path.display()).entered();
    let data = read_store_file(path)?;
    key_store_from_bytes(&data, password, kind).map_err(|problem| StoreError::File {
        path: path.to_path_buf(),
        problem,
    })
}

/// Reads the trusted certificates of a trust store. `password` is
/// `ssl.trustStore.password`; an empty one counts as none.
pub fn load_trust_store(
    path: &Path,
    password: Option<&str>,
    kind: StoreType,
) -> Result<TrustStore, StoreError> {
    let _span = tracing::info_span!("trust_store", path = %path.display()).entered();
    let data = read_store_file(path)?;
    trust_store_from_bytes(&data, password, kind).map_err(|problem| StoreError::File {
        path: path.to_path_buf(),
        problem,
    })
}

pub(super) fn key_store_from_bytes(
    data: &[u8],
    password: Option<&str>,
    kind: StoreType,
) -> Result<KeyStore, StoreProblem> {
    let password = password.filter(|p| !p.is_empty());
    match binary_format(data, kind)? {
        Format::Pem => pem::key_store(data, password),
        Format::Jks => jks::key_store(data, password),
        Format::Pkcs12 => pkcs12::key_store(data, password).map_err(|e| not_jks(e, kind)),
    }
}

pub(super) fn trust_store_from_bytes(
    data: &[u8],
    password: Option<&str>,
    kind: StoreType,
) -> Result<TrustStore, StoreProblem> {
    let password = password.filter(|p| !p.is_empty());
    match binary_format(data, kind)? {
        // ZooKeeper's PEM trust store ignores the password: certificates are public.
        Format::Pem => pem::trust_store(data),
        Format::Jks => jks::trust_store(data, password),
        Format::Pkcs12 => pkcs12::trust_store(data, password).map_err(|e| not_jks(e, kind)),
    }
}

/// A file said to be JKS that is not JKS was read as PKCS#12; if that failed too, a
/// PKCS#12 decoding error alone would puzzle whoever configured a JKS store.
fn not_jks(problem: StoreProblem, kind: StoreType) -> StoreProblem {
    match problem {
        StoreProblem::Malformed { detail, .. } if kind == StoreType::Jks => {
            StoreProblem::Malformed {
                format: "JKS",
                detail: format!(
                    "no JKS magic number (0xFEEDFEED), and not a PKCS#12 file either ({detail})"
                ),
            }
        }
        other => other,
    }
}

/// The parser a file goes to.
enum Format {
    Pem,
    Jks,
    Pkcs12,
}

const JCEKS_MAGIC: [u8; 4] = [0xCE, 0xCE, 0xCE, 0xCE];

/// Chooses the parser: PEM as configured; for JKS and PKCS12, the format the first bytes
/// show, as Java's dual-format key stores do (see the module comment).
fn binary_format(data: &[u8], kind: StoreType) -> Result<Format, StoreProblem> {
    if data.is_empty() {
        return Err(StoreProblem::malformed(
            kind.format_name(),
            "the file is empty",
        ));
    }
    if kind == StoreType::Pem {
        return Ok(Format::Pem);
    }
    if data.starts_with(&jks::MAGIC) {
        if kind == StoreType::Pkcs12 {
            tracing::debug!("store type is PKCS12 but the file is JKS; reading it as JKS");
        }
        return Ok(Format::Jks);
    }
    if data.starts_with(&JCEKS_MAGIC) {
        return Err(StoreProblem::Unsupported(
            "JCEKS key stores (convert with keytool -importkeystore -deststoretype PKCS12)"
                .to_owned(),
        ));
    }
    if data.trim_ascii_start().starts_with(b"-----BEGIN ") {
        // Without this hint the PKCS#12 parser would report a DER error, which says
        // nothing useful about a PEM file with a wrong type or extension.
        return Err(StoreProblem::malformed(
            kind.format_name(),
            format!("this is a PEM file, not a {kind} store: set ssl.*.type to PEM"),
        ));
    }
    if kind == StoreType::Jks {
        tracing::debug!("store type is JKS but the file is not; reading it as PKCS#12");
    }
    Ok(Format::Pkcs12)
}

/// Reads a whole store file, refusing files over [`MAX_STORE_BYTES`]. The size is
/// checked again while reading, for files whose metadata does not tell it (devices,
/// pipes) or that grow.
fn read_store_file(path: &Path) -> Result<Vec<u8>, StoreError> {
    let fail = |problem| StoreError::File {
        path: path.to_path_buf(),
        problem,
    };
    let file = std::fs::File::open(path).map_err(|e| {
        fail(if e.kind() == std::io::ErrorKind::NotFound {
            StoreProblem::NotFound
        } else {
            StoreProblem::Io(e)
        })
    })?;
    let metadata = file.metadata().map_err(|e| fail(StoreProblem::Io(e)))?;
    if metadata.is_dir() {
        return Err(fail(StoreProblem::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is a directory",
        ))));
    }
    if metadata.len() > MAX_STORE_BYTES {
        return Err(fail(StoreProblem::TooLarge));
    }
    let mut data = Vec::new();
    file.take(MAX_STORE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| fail(StoreProblem::Io(e)))?;
    if data.len() as u64 > MAX_STORE_BYTES {
        return Err(fail(StoreProblem::TooLarge));
    }
    Ok(data)
}

/// Checks that `der` is an X.509 certificate, so a corrupt one is reported here, with
/// the file's name, rather than at the first handshake. Returns its subject, for logs.
/// (The X.509 parser is the one p12-keystore already brings in for PKCS#12.)
pub(super) fn check_certificate(
    der: &[u8],
    format: &'static str,
    which: impl fmt::Display,
) -> Result<String, StoreProblem> {
    p12_keystore::Certificate::from_der(der)
        .map(|cert| cert.subject().to_owned())
        .map_err(|e| {
            StoreProblem::malformed(format, format!("{which} is not an X.509 certificate: {e}"))
        })
}

/// Checks that a decrypted or decoded key is a PKCS#8 `PrivateKeyInfo`. After a
/// decryption, failing this means the password was wrong (the 1-in-256 case where
/// garbage still has valid padding), so callers map the error accordingly.
pub(super) fn is_pkcs8(der: &[u8]) -> bool {
    pkcs8::PrivateKeyInfoRef::try_from(der).is_ok()
}
