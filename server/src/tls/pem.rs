//! PEM key and trust stores, as ZooKeeper's `PEMFileLoader` / `PemReader` read them: a
//! key store is one file holding the private key and the certificate chain; a trust
//! store is every CERTIFICATE block of a file.
//!
//! ZooKeeper decodes only PKCS#8 keys ("PRIVATE KEY", or "ENCRYPTED PRIVATE KEY" when
//! a password is set). We also take PKCS#1 ("RSA PRIVATE KEY") and SEC1 ("EC PRIVATE
//! KEY"), which rustls reads, and an unencrypted key when a password is set (ZooKeeper
//! would fail): being lenient costs nothing here. PEM parsing is rustls-pki-types';
//! it skips labels it does not know, so the ENCRYPTED PRIVATE KEY block and the
//! labels we refuse are found by a scan of the BEGIN lines.

use base64::Engine as _;
use pkcs8::der::{Decode as _, Tag, Tagged as _, asn1::AnyRef};
use pkcs8::pkcs5::{EncryptionScheme, pbes2};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::store::{KeyStore, StoreProblem, TrustStore, check_certificate, is_pkcs8};

const FORMAT: &str = "PEM";
const ENCRYPTED_LABEL: &str = "ENCRYPTED PRIVATE KEY";
/// PBKDF2 iterations we run at most for a key: OpenSSL writes 2048 and Java 10000, and
/// p12-keystore stops at the same number, so a hostile count cannot stall the start.
const MAX_KDF_ITERATIONS: u32 = 1_000_000;
/// Memory scrypt may take (128 · N · r bytes); OpenSSL's own default bound is 32 MiB.
const MAX_SCRYPT_BYTES: u64 = 64 * 1024 * 1024;
const MAX_SCRYPT_PARALLELISM: u16 = 16;

pub(super) fn key_store(data: &[u8], password: Option<&str>) -> Result<KeyStore, StoreProblem> {
    let blocks = key_blocks(data);
    let Some(first) = blocks.first() else {
        return Err(StoreProblem::NoPrivateKey(
            "no PRIVATE KEY block: a PEM key store holds the private key and its \
             certificate chain in one file"
                .to_owned(),
        ));
    };
    if blocks.len() > 1 {
        tracing::warn!(
            "the PEM key store holds {} private keys; using the first, {} on line {}",
            blocks.len(),
            first.label,
            first.line
        );
    }
    let key = match first.label.as_str() {
        ENCRYPTED_LABEL => {
            let der = block_body(data, first)?;
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(decrypt(&der, password)?))
        }
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
            if first.legacy_encrypted {
                return Err(StoreProblem::Unsupported(format!(
                    "the {} on line {} is encrypted the legacy OpenSSL way (Proc-Type: \
                     4,ENCRYPTED); convert it with: openssl pkcs8 -topk8 -v2 aes-256-cbc",
                    first.label, first.line
                )));
            }
            if password.is_some() {
                tracing::debug!("the private key is not encrypted; the password is not used");
            }
            // The first block pki-types yields is this one: no key block precedes it.
            let key = PrivateKeyDer::pem_slice_iter(data)
                .next()
                .ok_or_else(|| {
                    StoreProblem::malformed(FORMAT, "the private key block is unreadable")
                })?
                .map_err(|e| StoreProblem::malformed(FORMAT, e))?;
            check_plain_key(&key, first)?;
            key
        }
        other => {
            return Err(StoreProblem::Unsupported(format!(
                "{other} blocks (line {}): ferrokeeper reads PRIVATE KEY, ENCRYPTED PRIVATE \
                 KEY, RSA PRIVATE KEY and EC PRIVATE KEY",
                first.line
            )));
        }
    };
    let chain = certificates(data)?;
    if chain.is_empty() {
        return Err(StoreProblem::NoCertificate(
            "the file holds a private key but no CERTIFICATE block: a PEM key store holds \
             the certificate chain in the same file, leaf first"
                .to_owned(),
        ));
    }
    Ok(KeyStore { chain, key })
}

pub(super) fn trust_store(data: &[u8]) -> Result<TrustStore, StoreProblem> {
    let roots = certificates(data)?;
    if roots.is_empty() {
        return Err(StoreProblem::NoCertificate(
            "no CERTIFICATE block in the file".to_owned(),
        ));
    }
    Ok(TrustStore { roots })
}

/// Every CERTIFICATE block, in file order, each checked to be X.509.
fn certificates(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, StoreProblem> {
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(data) {
        let cert = cert.map_err(|e| StoreProblem::malformed(FORMAT, e))?;
        check_certificate(
            &cert,
            FORMAT,
            format_args!("certificate {}", certs.len() + 1),
        )?;
        certs.push(cert);
    }
    Ok(certs)
}

/// A BEGIN line whose label ends in "PRIVATE KEY".
struct KeyBlock {
    label: String,
    /// 1-based, for messages.
    line: usize,
    /// The line after BEGIN is `Proc-Type: 4,ENCRYPTED` (OpenSSL's legacy encryption).
    legacy_encrypted: bool,
}

/// The private key blocks of the file, in order, by their BEGIN lines.
fn key_blocks(data: &[u8]) -> Vec<KeyBlock> {
    // Only the line end is trimmed: pki-types, too, ignores an indented BEGIN line.
    let lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii_end)
        .collect();
    let mut blocks = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(label) = line
            .strip_prefix(b"-----BEGIN ")
            .and_then(|rest| rest.strip_suffix(b"-----"))
        else {
            continue;
        };
        if !label.ends_with(b"PRIVATE KEY") {
            continue;
        }
        let legacy_encrypted = lines
            .get(i + 1)
            .is_some_and(|next| next.starts_with(b"Proc-Type:"));
        blocks.push(KeyBlock {
            label: String::from_utf8_lossy(label).into_owned(),
            line: i + 1,
            legacy_encrypted,
        });
    }
    blocks
}

/// The base64-decoded body of the block that starts on `block.line` (used for the
/// ENCRYPTED PRIVATE KEY label, which pki-types does not return).
fn block_body(data: &[u8], block: &KeyBlock) -> Result<Vec<u8>, StoreProblem> {
    let end = format!("-----END {}-----", block.label);
    let mut base64 = Vec::new();
    for line in data
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .skip(block.line)
    {
        if line == end.as_bytes() {
            return base64::engine::general_purpose::STANDARD
                .decode(&base64)
                .map_err(|e| {
                    StoreProblem::malformed(
                        FORMAT,
                        format!("the {} on line {}: {e}", block.label, block.line),
                    )
                });
        }
        base64.extend(line.iter().filter(|b| !b.is_ascii_whitespace()));
    }
    Err(StoreProblem::malformed(
        FORMAT,
        format!("the {} on line {} has no END line", block.label, block.line),
    ))
}

/// A cheap structural check of an unencrypted key, so that garbage is reported with the
/// file rather than when rustls first signs with it.
fn check_plain_key(key: &PrivateKeyDer<'_>, block: &KeyBlock) -> Result<(), StoreProblem> {
    let valid = match key {
        PrivateKeyDer::Pkcs8(_) => is_pkcs8(key.secret_der()),
        // PKCS#1 RSAPrivateKey and SEC1 ECPrivateKey are both a SEQUENCE; we have no
        // parser for their insides, and rustls checks them when it loads the key.
        _ => AnyRef::from_der(key.secret_der()).is_ok_and(|any| any.tag() == Tag::Sequence),
    };
    if valid {
        Ok(())
    } else {
        Err(StoreProblem::malformed(
            FORMAT,
            format!(
                "the {} on line {} is not a valid key",
                block.label, block.line
            ),
        ))
    }
}

/// Decrypts a PKCS#8 `EncryptedPrivateKeyInfo` (PBES2: PBKDF2 or scrypt, with AES) to
/// its `PrivateKeyInfo`.
fn decrypt(der: &[u8], password: Option<&str>) -> Result<Vec<u8>, StoreProblem> {
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der)
        .map_err(|e| StoreProblem::malformed(FORMAT, format!("the ENCRYPTED PRIVATE KEY: {e}")))?;
    let Some(password) = password else {
        return Err(StoreProblem::PasswordRequired(
            "the private key is encrypted (ENCRYPTED PRIVATE KEY): set ssl.keyStore.password"
                .to_owned(),
        ));
    };
    match &info.encryption_algorithm {
        EncryptionScheme::Pbes2(params) => check_kdf_limits(&params.kdf)?,
        _ => {
            return Err(StoreProblem::Unsupported(
                "a private key encrypted with PBES1 (openssl pkcs8 -v1 ...); re-encrypt it \
                 with: openssl pkcs8 -topk8 -v2 aes-256-cbc"
                    .to_owned(),
            ));
        }
    }
    match info.decrypt(password) {
        // Valid padding on a wrong password's garbage happens once in 256 tries; the
        // PKCS#8 check catches it.
        Ok(key) if is_pkcs8(key.as_bytes()) => Ok(key.as_bytes().to_vec()),
        Err(pkcs8::Error::EncryptedPrivateKey(
            pkcs8::pkcs5::Error::UnsupportedAlgorithm { oid }
            | pkcs8::pkcs5::Error::AlgorithmParametersInvalid { oid },
        )) => Err(StoreProblem::Unsupported(format!(
            "the private key's encryption (algorithm {oid}, or its parameters); \
             re-encrypt it with: openssl pkcs8 -topk8 -v2 aes-256-cbc"
        ))),
        Ok(_) | Err(_) => Err(StoreProblem::WrongPassword(
            "cannot decrypt the ENCRYPTED PRIVATE KEY with ssl.keyStore.password".to_owned(),
        )),
    }
}

/// Refuses key derivations that would take minutes or gigabytes before the password
/// is even tried, and scrypt costs that are not a power of two above 1 (pkcs5 panics
/// on a cost of 0).
fn check_kdf_limits(kdf: &pbes2::Kdf) -> Result<(), StoreProblem> {
    let iterations = kdf.pbkdf2().map_or(0, |pbkdf2| pbkdf2.iteration_count);
    if iterations > MAX_KDF_ITERATIONS {
        return Err(StoreProblem::Unsupported(format!(
            "{iterations} PBKDF2 iterations for the private key (at most {MAX_KDF_ITERATIONS})"
        )));
    }
    if let Some(scrypt) = kdf.scrypt() {
        let n = scrypt.cost_parameter;
        if n < 2 || !n.is_power_of_two() {
            return Err(StoreProblem::malformed(
                FORMAT,
                format!("scrypt cost {n} is not a power of two above 1"),
            ));
        }
        let memory = 128u64
            .checked_mul(n)
            .and_then(|m| m.checked_mul(u64::from(scrypt.block_size)));
        if memory.is_none_or(|m| m > MAX_SCRYPT_BYTES)
            || scrypt.parallelization > MAX_SCRYPT_PARALLELISM
        {
            return Err(StoreProblem::Unsupported(format!(
                "scrypt parameters N={n} r={} p={} for the private key (at most \
                 {MAX_SCRYPT_BYTES} bytes of memory and p={MAX_SCRYPT_PARALLELISM})",
                scrypt.block_size, scrypt.parallelization
            )));
        }
    }
    Ok(())
}
