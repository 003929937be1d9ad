//! Sun's JKS key store format, read as the JDK's `sun.security.provider.JavaKeyStore`
//! (layout, integrity digest) and `KeyProtector` (private key encryption) read it.
//!
//! Layout, all integers big-endian:
//!
//! ```text
//! u32 magic 0xFEEDFEED, u32 version (1 or 2), u32 entry count, then per entry:
//!   u32 tag, UTF alias (u16 length + modified UTF-8), u64 creation date (ms)
//!   tag 1, private key: u32 length + protected key (an EncryptedPrivateKeyInfo),
//!          u32 certificate count, per certificate: [v2: UTF type] u32 length + DER
//!   tag 2, trusted certificate: [v2: UTF type] u32 length + DER
//! 20 bytes: SHA-1(password as UTF-16BE || "Mighty Aphrodite" || every byte above)
//! ```
//!
//! Every length is checked against the bytes that remain before it is used, and
//! entries borrow from the file, so a hostile length or count fails with an error
//! instead of an allocation.

use pkcs8::ObjectIdentifier;
use pkcs8::der::asn1::OctetStringRef;
use pkcs8::der::{Reader as _, SliceReader};
use pkcs8::spki::AlgorithmIdentifierRef;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha1::{Digest, Sha1};

use super::store::{KeyStore, StoreProblem, TrustStore, check_certificate, is_pkcs8};

pub(super) const MAGIC: [u8; 4] = [0xFE, 0xED, 0xFE, 0xED];
const FORMAT: &str = "JKS";
const DIGEST_LEN: usize = 20;
const SALT_LEN: usize = 20;
/// Java mixes this into the integrity digest after the password.
const INTEGRITY_SALT: &[u8] = b"Mighty Aphrodite";
/// Sun's proprietary key protection ("JavaSoft JDKKeyProtector").
const KEY_PROTECTOR_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.42.2.17.1.1");
const TAG_PRIVATE_KEY: u32 = 1;
const TAG_TRUSTED_CERT: u32 = 2;

enum Entry<'a> {
    PrivateKey {
        alias: String,
        protected_key: &'a [u8],
        chain: Vec<&'a [u8]>,
    },
    TrustedCert {
        alias: String,
        cert: &'a [u8],
    },
}

pub(super) fn key_store(data: &[u8], password: Option<&str>) -> Result<KeyStore, StoreProblem> {
    let entries = parse(data, password)?;
    let keys: Vec<_> = entries
        .iter()
        .filter_map(|entry| match entry {
            Entry::PrivateKey {
                alias,
                protected_key,
                chain,
            } => Some((alias, *protected_key, chain)),
            Entry::TrustedCert { .. } => None,
        })
        .collect();
    let Some(&(alias, protected_key, chain)) = keys.first() else {
        return Err(StoreProblem::NoPrivateKey(
            "the JKS store holds no private key entry (is it a trust store?)".to_owned(),
        ));
    };
    if keys.len() > 1 {
        // Java's key manager would choose by the peer's signature algorithms; a
        // deployment has one identity, so the first entry in the file is the one.
        tracing::warn!(
            "the key store holds {} private keys; using the first, alias {alias:?}",
            keys.len()
        );
    }
    let Some(password) = password else {
        return Err(StoreProblem::PasswordRequired(format!(
            "private key entry {alias:?} is encrypted with the store password \
             (ssl.keyStore.password)"
        )));
    };
    if chain.is_empty() {
        return Err(StoreProblem::NoCertificate(format!(
            "private key entry {alias:?} has no certificate chain"
        )));
    }
    let key = recover_key(protected_key, password, alias)?;
    let chain = chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            check_certificate(
                der,
                FORMAT,
                format_args!("certificate {} of {alias:?}", i + 1),
            )?;
            Ok(CertificateDer::from(der.to_vec()))
        })
        .collect::<Result<_, StoreProblem>>()?;
    Ok(KeyStore {
        chain,
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    })
}

/// The trusted certificate entries only: ZooKeeper's trust anchors come from
/// `PKIXBuilderParameters(KeyStore)`, which ignores private key entries.
pub(super) fn trust_store(data: &[u8], password: Option<&str>) -> Result<TrustStore, StoreProblem> {
    let entries = parse(data, password)?;
    let mut roots = Vec::new();
    for entry in &entries {
        if let Entry::TrustedCert { alias, cert } = entry {
            check_certificate(cert, FORMAT, format_args!("trusted certificate {alias:?}"))?;
            roots.push(CertificateDer::from(cert.to_vec()));
        }
    }
    if entries.is_empty() {
        return Err(StoreProblem::NoCertificate(
            "the JKS store is empty".to_owned(),
        ));
    }
    if roots.is_empty() {
        return Err(StoreProblem::NoCertificate(
            "the JKS store holds no trusted certificate entry (the certificates of private \
             key entries are not trusted, as in ZooKeeper)"
                .to_owned(),
        ));
    }
    Ok(TrustStore { roots })
}

/// Parses the whole store and, when a password is given, checks its integrity digest.
fn parse<'a>(data: &'a [u8], password: Option<&str>) -> Result<Vec<Entry<'a>>, StoreProblem> {
    let mut r = Reader { data, pos: 0 };
    if r.bytes(4, "the magic number")? != MAGIC {
        return Err(StoreProblem::malformed(
            FORMAT,
            "no 0xFEEDFEED magic number",
        ));
    }
    let version = r.u32("the version")?;
    if version != 1 && version != 2 {
        return Err(StoreProblem::malformed(
            FORMAT,
            format!("version {version} (Java writes 1 or 2)"),
        ));
    }
    let count = r.u32("the entry count")?;
    // No `with_capacity(count)`: the count is the file's word. Each entry takes at
    // least 4 bytes, so a false count ends in an error at the end of the data.
    let mut entries = Vec::new();
    for index in 0..count {
        let tag = r.u32("an entry tag")?;
        let alias = r.utf("an alias")?;
        r.bytes(8, "an entry date")?;
        match tag {
            TAG_PRIVATE_KEY => {
                let protected_key = r.block("a protected private key")?;
                let certs = r.u32("a certificate count")?;
                let mut chain = Vec::new();
                for _ in 0..certs {
                    r.cert_type(version, &alias)?;
                    chain.push(r.block("a certificate")?);
                }
                entries.push(Entry::PrivateKey {
                    alias,
                    protected_key,
                    chain,
                });
            }
            TAG_TRUSTED_CERT => {
                r.cert_type(version, &alias)?;
                let cert = r.block("a certificate")?;
                entries.push(Entry::TrustedCert { alias, cert });
            }
            // Tag 3 (secret key) exists only in JCEKS, which has its own magic number.
            _ => {
                return Err(StoreProblem::malformed(
                    FORMAT,
                    format!("entry {} has unknown tag {tag}", index + 1),
                ));
            }
        }
    }
    let body_len = r.pos;
    let stored = r.bytes(DIGEST_LEN, "the integrity digest")?;
    // Bytes after the digest are ignored, as Java ignores them.
    match password {
        Some(password) => {
            let computed = Sha1::new()
                .chain_update(utf16be(password))
                .chain_update(INTEGRITY_SALT)
                .chain_update(&data[..body_len])
                .finalize();
            if computed.as_slice() != stored {
                return Err(StoreProblem::WrongPassword(
                    "the JKS integrity check failed: the password is wrong, or the file \
                     was altered"
                        .to_owned(),
                ));
            }
        }
        None => tracing::debug!("no password: the JKS store's integrity is not checked"),
    }
    Ok(entries)
}

/// Decrypts a private key protected by Sun's `KeyProtector`: the protected bytes are
/// salt (20) || key XOR keystream || SHA-1(password || key), where the keystream is
/// d1 || d2 || ... with d1 = SHA-1(password || salt), d(i+1) = SHA-1(password || d(i)),
/// and the password is UTF-16BE. The result is a PKCS#8 `PrivateKeyInfo`.
fn recover_key(protected: &[u8], password: &str, alias: &str) -> Result<Vec<u8>, StoreProblem> {
    let (algorithm, data) = decode_encrypted_key(protected)
        .map_err(|e| StoreProblem::malformed(FORMAT, format!("protected key of {alias:?}: {e}")))?;
    if algorithm != KEY_PROTECTOR_OID {
        return Err(StoreProblem::Unsupported(format!(
            "private key {alias:?} is encrypted with algorithm {algorithm}, not Sun's JKS \
             key protector"
        )));
    }
    if data.len() < SALT_LEN + DIGEST_LEN {
        return Err(StoreProblem::malformed(
            FORMAT,
            format!("protected key of {alias:?} is only {} bytes", data.len()),
        ));
    }
    let (salt, rest) = data.split_at(SALT_LEN);
    let (encrypted, check) = rest.split_at(rest.len() - DIGEST_LEN);
    let password = utf16be(password);

    let mut block = [0u8; DIGEST_LEN];
    block.copy_from_slice(salt);
    let mut key = Vec::with_capacity(encrypted.len());
    for chunk in encrypted.chunks(DIGEST_LEN) {
        let next = Sha1::new()
            .chain_update(&password)
            .chain_update(block)
            .finalize();
        block.copy_from_slice(&next);
        key.extend(chunk.iter().zip(block).map(|(c, k)| c ^ k));
    }
    let computed = Sha1::new()
        .chain_update(&password)
        .chain_update(&key)
        .finalize();
    if computed.as_slice() != check {
        // The store password passed the integrity check, so the key has its own.
        return Err(StoreProblem::WrongPassword(format!(
            "private key {alias:?} does not open with the store password: it has a key \
             password of its own, which ZooKeeper does not support either (it opens keys \
             with ssl.keyStore.password)"
        )));
    }
    if !is_pkcs8(&key) {
        return Err(StoreProblem::malformed(
            FORMAT,
            format!("private key {alias:?} is not a PKCS#8 key"),
        ));
    }
    Ok(key)
}

/// The algorithm and data of a DER `EncryptedPrivateKeyInfo`.
fn decode_encrypted_key(der: &[u8]) -> Result<(ObjectIdentifier, &[u8]), pkcs8::der::Error> {
    let mut reader = SliceReader::new(der)?;
    let decoded = reader.sequence(|r| {
        let algorithm: AlgorithmIdentifierRef<'_> = r.decode()?;
        let data: &OctetStringRef = r.decode()?;
        Ok::<_, pkcs8::der::Error>((algorithm.oid, data.as_bytes()))
    })?;
    reader.finish()?;
    Ok(decoded)
}

/// Java's password bytes for JKS: each UTF-16 code unit, big-endian (`char` >> 8, then
/// `char`), in the integrity digest and the key protector alike.
fn utf16be(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// A cursor that never reads past the end: every read checks what remains.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, len: usize, what: &str) -> Result<&'a [u8], StoreProblem> {
        let remaining = self.data.len() - self.pos;
        if len > remaining {
            return Err(StoreProblem::malformed(
                FORMAT,
                format!(
                    "the file ends inside {what} at byte {}: it needs {len} bytes, {remaining} remain",
                    self.pos
                ),
            ));
        }
        let bytes = &self.data[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    fn u16(&mut self, what: &str) -> Result<u16, StoreProblem> {
        let mut b = [0u8; 2];
        b.copy_from_slice(self.bytes(2, what)?);
        Ok(u16::from_be_bytes(b))
    }

    fn u32(&mut self, what: &str) -> Result<u32, StoreProblem> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.bytes(4, what)?);
        Ok(u32::from_be_bytes(b))
    }

    /// A u32 length and that many bytes. Java writes the length as a signed int; a
    /// "negative" one is simply larger than any file we read.
    fn block(&mut self, what: &str) -> Result<&'a [u8], StoreProblem> {
        let len = self.u32(what)?;
        self.bytes(usize::try_from(len).unwrap_or(usize::MAX), what)
    }

    /// Java's `writeUTF`: a u16 length and modified UTF-8, which differs from UTF-8
    /// only for NUL and characters outside the BMP; aliases are names, so a lossy
    /// decoding is enough.
    fn utf(&mut self, what: &str) -> Result<String, StoreProblem> {
        let len = self.u16(what)?;
        Ok(String::from_utf8_lossy(self.bytes(usize::from(len), what)?).into_owned())
    }

    /// Version 2 names each certificate's type; only X.509 is usable for TLS.
    fn cert_type(&mut self, version: u32, alias: &str) -> Result<(), StoreProblem> {
        if version == 1 {
            return Ok(());
        }
        let cert_type = self.utf("a certificate type")?;
        if cert_type != "X.509" {
            return Err(StoreProblem::Unsupported(format!(
                "entry {alias:?} holds a certificate of type {cert_type:?}, not X.509"
            )));
        }
        Ok(())
    }
}
