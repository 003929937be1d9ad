//! Tests of the store readers: the fixtures of `testdata/` (made by keytool and openssl,
//! see its README.md), JKS files built here to reach every branch, and damaged files:
//! every truncation, random mutations and random bytes must give an error, never a
//! panic.

use std::path::{Path, PathBuf};

use pkcs8::der::Encode as _;
use pkcs8::der::asn1::ObjectIdentifier;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha1::{Digest, Sha1};

use super::store::{
    KeyStore, StoreError, StoreProblem, StoreType, TrustStore, key_store_from_bytes,
    load_key_store, load_trust_store, trust_store_from_bytes,
};

const PASSWORD: &str = "testpass";

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/tls/testdata")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(testdata(name)).unwrap()
}

fn pem_certs(name: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(&read(name))
        .collect::<Result<_, _>>()
        .unwrap()
}

/// server.pem then ca.pem: the chain every server key store holds.
fn server_chain() -> Vec<CertificateDer<'static>> {
    [pem_certs("server.pem"), pem_certs("ca.pem")].concat()
}

/// server.key's PKCS#8 DER, the key every server key store holds.
fn server_key() -> Vec<u8> {
    PrivateKeyDer::from_pem_slice(&read("server.key"))
        .unwrap()
        .secret_der()
        .to_vec()
}

fn key(name: &str, password: Option<&str>, kind: StoreType) -> Result<KeyStore, StoreProblem> {
    load_key_store(&testdata(name), password, kind).map_err(into_problem)
}

fn trust(name: &str, password: Option<&str>, kind: StoreType) -> Result<TrustStore, StoreProblem> {
    load_trust_store(&testdata(name), password, kind).map_err(into_problem)
}

fn into_problem(error: StoreError) -> StoreProblem {
    match error {
        StoreError::File { problem, .. } => problem,
        other => panic!("expected a file error, got {other}"),
    }
}

fn assert_server_identity(store: &KeyStore) {
    assert_eq!(store.chain, server_chain());
    assert!(matches!(store.key, PrivateKeyDer::Pkcs8(_)));
    assert_eq!(store.key.secret_der(), server_key());
}

// ---- StoreType ----

#[test]
fn store_type_parse_is_case_insensitive_and_refuses_bcfks() {
    assert_eq!(StoreType::parse("PEM").unwrap(), StoreType::Pem);
    assert_eq!(StoreType::parse("pem").unwrap(), StoreType::Pem);
    assert_eq!(StoreType::parse("Pkcs12").unwrap(), StoreType::Pkcs12);
    assert_eq!(StoreType::parse("jks").unwrap(), StoreType::Jks);
    assert_eq!(StoreType::parse(" JKS ").unwrap(), StoreType::Jks);
    for bcfks in ["BCFKS", "bcfks"] {
        let err = StoreType::parse(bcfks).unwrap_err();
        assert!(matches!(err, StoreError::UnsupportedType(_)), "{err}");
        assert!(err.to_string().contains("not supported"), "{err}");
    }
    for unknown in ["", "PKCS11", "JCEKS", "p12"] {
        assert!(matches!(
            StoreType::parse(unknown),
            Err(StoreError::UnknownType(_))
        ));
    }
}

#[test]
fn store_type_from_path_follows_zookeeper_extensions() {
    let from = |p: &str| StoreType::from_path(Path::new(p));
    assert_eq!(from("/etc/zk/keystore.pem").unwrap(), StoreType::Pem);
    assert_eq!(from("truststore.p12").unwrap(), StoreType::Pkcs12);
    assert_eq!(from("conf/keystore.jks").unwrap(), StoreType::Jks);
    assert!(matches!(
        from("store.bcfks"),
        Err(StoreError::UnsupportedType(_))
    ));
    // ZooKeeper matches the exact extensions only, case included.
    for unknown in [
        "cert.crt",
        "key.key",
        "store.pfx",
        "store.PEM",
        "store",
        "dir.jks/store",
    ] {
        let err = from(unknown).unwrap_err();
        assert!(
            matches!(err, StoreError::UnknownExtension(_)),
            "{unknown}: {err}"
        );
        assert!(err.to_string().contains(unknown), "{err}");
    }
    let resolve = |t: Option<&str>, p: &str| StoreType::resolve(t, Path::new(p));
    assert_eq!(
        resolve(Some("PKCS12"), "store.jks").unwrap(),
        StoreType::Pkcs12
    );
    assert_eq!(resolve(Some(""), "store.jks").unwrap(), StoreType::Jks);
    assert_eq!(resolve(None, "store.pem").unwrap(), StoreType::Pem);
    assert!(resolve(Some("BCFKS"), "store.jks").is_err());
}

// ---- PEM ----

#[test]
fn pem_key_store_with_pkcs8_key_and_chain() {
    assert_server_identity(&key("server-keystore.pem", None, StoreType::Pem).unwrap());
    // An unencrypted key does not need the password that is set anyway.
    assert_server_identity(&key("server-keystore.pem", Some(PASSWORD), StoreType::Pem).unwrap());
}

#[test]
fn pem_key_store_with_sec1_and_pkcs1_keys() {
    let sec1 = key("server-sec1-keystore.pem", None, StoreType::Pem).unwrap();
    assert!(matches!(sec1.key, PrivateKeyDer::Sec1(_)));
    assert_eq!(sec1.chain, pem_certs("server.pem"));

    let rsa = key("rsa-pkcs1-keystore.pem", None, StoreType::Pem).unwrap();
    assert!(matches!(rsa.key, PrivateKeyDer::Pkcs1(_)));
    assert_eq!(rsa.chain, pem_certs("rsa-pkcs1-keystore.pem"));
    assert_eq!(rsa.chain.len(), 1);
}

#[test]
fn pem_key_store_with_encrypted_pkcs8_key() {
    let name = "server-encrypted-keystore.pem";
    assert_server_identity(&key(name, Some(PASSWORD), StoreType::Pem).unwrap());
    assert!(matches!(
        key(name, None, StoreType::Pem),
        Err(StoreProblem::PasswordRequired(_))
    ));
    // ZooKeeper uses an unset password as the empty one; so do we.
    assert!(matches!(
        key(name, Some(""), StoreType::Pem),
        Err(StoreProblem::PasswordRequired(_))
    ));
    assert!(matches!(
        key(name, Some("wrongpass"), StoreType::Pem),
        Err(StoreProblem::WrongPassword(_))
    ));
}

#[test]
fn pem_encrypted_key_with_pbkdf2_sha1_and_aes_128() {
    // The PBKDF2 default PRF (hmacWithSHA1), as OpenSSL 1.0 wrote encrypted keys.
    let pem = [
        read("server-encrypted-sha1.key"),
        read("server.pem"),
        read("ca.pem"),
    ]
    .concat();
    let store = key_store_from_bytes(&pem, Some(PASSWORD), StoreType::Pem).unwrap();
    assert_server_identity(&store);
    assert!(matches!(
        key_store_from_bytes(&pem, Some("wrongpass"), StoreType::Pem),
        Err(StoreProblem::WrongPassword(_))
    ));
}

#[test]
fn pem_trust_store_takes_every_certificate() {
    assert_eq!(
        trust("ca.pem", None, StoreType::Pem).unwrap().roots,
        pem_certs("ca.pem")
    );
    // The password is ignored, as ZooKeeper ignores it for PEM trust stores.
    let all = trust("server-keystore.pem", Some("anything"), StoreType::Pem).unwrap();
    assert_eq!(all.roots, server_chain());
}

#[test]
fn pem_key_store_errors() {
    assert!(matches!(
        key("server.key", None, StoreType::Pem),
        Err(StoreProblem::NoCertificate(_))
    ));
    assert!(matches!(
        key("ca.pem", None, StoreType::Pem),
        Err(StoreProblem::NoPrivateKey(_))
    ));
    assert!(matches!(
        trust("server.key", None, StoreType::Pem),
        Err(StoreProblem::NoCertificate(_))
    ));

    let cert = String::from_utf8(read("server.pem")).unwrap();
    let legacy = format!(
        "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,\
         00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END EC PRIVATE KEY-----\n{cert}"
    );
    let err = key_store_from_bytes(legacy.as_bytes(), Some(PASSWORD), StoreType::Pem).unwrap_err();
    assert!(matches!(err, StoreProblem::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("openssl pkcs8 -topk8"), "{err}");

    let dsa =
        format!("-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n{cert}");
    let err = key_store_from_bytes(dsa.as_bytes(), None, StoreType::Pem).unwrap_err();
    assert!(matches!(err, StoreProblem::Unsupported(_)), "{err}");

    let bad_base64 = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    let err = trust_store_from_bytes(bad_base64.as_bytes(), None, StoreType::Pem).unwrap_err();
    assert!(matches!(err, StoreProblem::Malformed { .. }), "{err}");

    // Good base64, but not a certificate.
    let not_a_cert = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
    let err = trust_store_from_bytes(not_a_cert.as_bytes(), None, StoreType::Pem).unwrap_err();
    assert!(matches!(err, StoreProblem::Malformed { .. }), "{err}");

    let key_pem = String::from_utf8(read("server.key")).unwrap();
    let unterminated = format!("{cert}{}", &key_pem[..key_pem.len() - 30]);
    assert!(key_store_from_bytes(unterminated.as_bytes(), None, StoreType::Pem).is_err());
}

#[test]
fn pem_key_store_with_two_keys_takes_the_first() {
    let first = String::from_utf8(read("server-keystore.pem")).unwrap();
    let second = String::from_utf8(read("rsa-pkcs1-keystore.pem")).unwrap();
    let both = format!("{first}{second}");
    let store = key_store_from_bytes(both.as_bytes(), None, StoreType::Pem).unwrap();
    assert_eq!(store.key.secret_der(), server_key());
    // The chain is every certificate of the file, as ZooKeeper's PemReader reads it.
    assert_eq!(store.chain.len(), 3);
}

// ---- PKCS#12 ----

#[test]
fn pkcs12_key_stores_from_openssl_and_keytool() {
    for name in ["server-openssl.p12", "server-keytool.p12"] {
        for kind in [StoreType::Pkcs12, StoreType::Jks] {
            let store = key(name, Some(PASSWORD), kind).unwrap();
            assert_server_identity(&store);
        }
        assert!(matches!(
            key(name, Some("wrongpass"), StoreType::Pkcs12),
            Err(StoreProblem::WrongPassword(_))
        ));
        assert!(matches!(
            key(name, None, StoreType::Pkcs12),
            Err(StoreProblem::PasswordRequired(_))
        ));
    }
}

#[test]
fn pkcs12_trust_store_takes_only_trusted_certificate_bags() {
    for kind in [StoreType::Pkcs12, StoreType::Jks] {
        let store = trust("trust-keytool.p12", Some(PASSWORD), kind).unwrap();
        assert_eq!(store.roots, pem_certs("ca.pem"));
    }
    assert!(matches!(
        trust("trust-keytool.p12", Some("wrongpass"), StoreType::Pkcs12),
        Err(StoreProblem::WrongPassword(_))
    ));
    // openssl pkcs12 -export does not mark certificates trusted; Java trusts none.
    let err = trust("trust-openssl.p12", Some(PASSWORD), StoreType::Pkcs12).unwrap_err();
    assert!(matches!(err, StoreProblem::NoCertificate(_)), "{err}");
    assert!(err.to_string().contains("keytool -importcert"), "{err}");
    // A key entry's chain is not trusted either.
    assert!(matches!(
        trust("server-keytool.p12", Some(PASSWORD), StoreType::Pkcs12),
        Err(StoreProblem::NoCertificate(_))
    ));
    assert!(matches!(
        key("trust-keytool.p12", Some(PASSWORD), StoreType::Pkcs12),
        Err(StoreProblem::NoPrivateKey(_))
    ));
}

// ---- JKS ----

#[test]
fn jks_key_store() {
    for kind in [StoreType::Jks, StoreType::Pkcs12] {
        assert_server_identity(&key("server.jks", Some(PASSWORD), kind).unwrap());
    }
    assert!(matches!(
        key("server.jks", Some("wrongpass"), StoreType::Jks),
        Err(StoreProblem::WrongPassword(_))
    ));
    assert!(matches!(
        key("server.jks", None, StoreType::Jks),
        Err(StoreProblem::PasswordRequired(_))
    ));
    assert!(matches!(
        key("trust.jks", Some(PASSWORD), StoreType::Jks),
        Err(StoreProblem::NoPrivateKey(_))
    ));
}

#[test]
fn jks_trust_store() {
    let ca = pem_certs("ca.pem");
    assert_eq!(
        trust("trust.jks", Some(PASSWORD), StoreType::Jks)
            .unwrap()
            .roots,
        ca
    );
    // Without a password the store is read unverified, as `keytool -list` reads it.
    assert_eq!(trust("trust.jks", None, StoreType::Jks).unwrap().roots, ca);
    assert_eq!(
        trust("trust.jks", Some(""), StoreType::Jks).unwrap().roots,
        ca
    );
    let err = trust("trust.jks", Some("wrongpass"), StoreType::Jks).unwrap_err();
    assert!(matches!(err, StoreProblem::WrongPassword(_)), "{err}");
    // Key entries' certificates are not trust anchors (ZooKeeper's PKIXBuilderParameters).
    assert!(matches!(
        trust("server.jks", Some(PASSWORD), StoreType::Jks),
        Err(StoreProblem::NoCertificate(_))
    ));
}

// ---- files and formats ----

#[test]
fn file_errors_name_the_file() {
    let missing = testdata("no-such-store.jks");
    let err = load_trust_store(&missing, None, StoreType::Jks).unwrap_err();
    assert!(err.to_string().contains("no-such-store.jks"), "{err}");
    assert!(matches!(into_problem(err), StoreProblem::NotFound));

    let dir = tempfile::tempdir().unwrap();
    let err = load_key_store(dir.path(), None, StoreType::Pem).unwrap_err();
    assert!(matches!(into_problem(err), StoreProblem::Io(_)));

    let huge = dir.path().join("huge.p12");
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len(super::store::MAX_STORE_BYTES + 1).unwrap();
    let err = load_key_store(&huge, Some(PASSWORD), StoreType::Pkcs12).unwrap_err();
    assert!(matches!(into_problem(err), StoreProblem::TooLarge));
}

#[test]
fn other_contents_for_binary_types_are_refused_clearly() {
    let jceks = [0xCE, 0xCE, 0xCE, 0xCE, 0, 0, 0, 2, 0, 0, 0, 0];
    let err = key_store_from_bytes(&jceks, Some(PASSWORD), StoreType::Jks).unwrap_err();
    assert!(matches!(err, StoreProblem::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("JCEKS"), "{err}");

    let err = trust("ca.pem", None, StoreType::Jks).unwrap_err();
    assert!(err.to_string().contains("PEM"), "{err}");

    let err = trust("server.ext", None, StoreType::Jks).unwrap_err();
    assert!(err.to_string().contains("0xFEEDFEED"), "{err}");

    for kind in [StoreType::Pem, StoreType::Pkcs12, StoreType::Jks] {
        let err = key_store_from_bytes(b"", Some(PASSWORD), kind).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }
}

// ---- JKS files built here ----

const X509: Option<&str> = Some("X.509");

enum TestEntry<'a> {
    Key {
        alias: &'a str,
        protected_key: Vec<u8>,
        chain: Vec<CertificateDer<'static>>,
    },
    Trusted {
        alias: &'a str,
        cert: CertificateDer<'static>,
    },
}

fn java_utf(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u16).to_be_bytes());
    out.extend(s.as_bytes());
}

fn utf16be(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// A JKS file as `JavaKeyStore.engineStore` writes it. `cert_type` is written before
/// each certificate in version 2 (`None` writes nothing, as version 1 does).
fn build_jks(
    version: u32,
    cert_type: Option<&str>,
    entries: &[TestEntry<'_>],
    password: &str,
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend([0xFE, 0xED, 0xFE, 0xED]);
    out.extend(version.to_be_bytes());
    out.extend((entries.len() as u32).to_be_bytes());
    let cert = |out: &mut Vec<u8>, der: &[u8]| {
        if let Some(t) = cert_type {
            java_utf(out, t);
        }
        out.extend((der.len() as u32).to_be_bytes());
        out.extend(der);
    };
    for entry in entries {
        match entry {
            TestEntry::Key {
                alias,
                protected_key,
                chain,
            } => {
                out.extend(1u32.to_be_bytes());
                java_utf(&mut out, alias);
                out.extend(1_700_000_000_000u64.to_be_bytes());
                out.extend((protected_key.len() as u32).to_be_bytes());
                out.extend(protected_key);
                out.extend((chain.len() as u32).to_be_bytes());
                for c in chain {
                    cert(&mut out, c);
                }
            }
            TestEntry::Trusted { alias, cert: c } => {
                out.extend(2u32.to_be_bytes());
                java_utf(&mut out, alias);
                out.extend(1_700_000_000_000u64.to_be_bytes());
                cert(&mut out, c);
            }
        }
    }
    let digest = Sha1::new()
        .chain_update(utf16be(password))
        .chain_update(b"Mighty Aphrodite")
        .chain_update(&out)
        .finalize();
    out.extend(digest);
    out
}

/// DER: a tag, a definite length, the content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend(content);
    out
}

fn oid(dotted: &str) -> Vec<u8> {
    ObjectIdentifier::new(dotted).unwrap().to_der().unwrap()
}

/// `KeyProtector.protect`: the JKS private key encryption, to check our reading of it.
fn protect_key(plain: &[u8], password: &str) -> Vec<u8> {
    let password = utf16be(password);
    let salt: Vec<u8> = (1..=20).collect();
    let mut data = salt.clone();
    let mut block = salt;
    for chunk in plain.chunks(20) {
        block = Sha1::new()
            .chain_update(&password)
            .chain_update(&block)
            .finalize()
            .to_vec();
        data.extend(chunk.iter().zip(&block).map(|(p, k)| p ^ k));
    }
    data.extend(
        Sha1::new()
            .chain_update(&password)
            .chain_update(plain)
            .finalize(),
    );
    let algorithm = tlv(
        0x30,
        &[oid("1.3.6.1.4.1.42.2.17.1.1"), vec![0x05, 0x00]].concat(),
    );
    tlv(0x30, &[algorithm, tlv(0x04, &data)].concat())
}

fn server_key_entry<'a>(alias: &'a str, password: &str) -> TestEntry<'a> {
    TestEntry::Key {
        alias,
        protected_key: protect_key(&server_key(), password),
        chain: server_chain(),
    }
}

fn ca_entry(alias: &str) -> TestEntry<'_> {
    TestEntry::Trusted {
        alias,
        cert: pem_certs("ca.pem").remove(0),
    }
}

#[test]
fn built_jks_versions_1_and_2_read_alike() {
    for (version, cert_type) in [(1, None), (2, X509)] {
        let jks = build_jks(
            version,
            cert_type,
            &[server_key_entry("server", PASSWORD), ca_entry("ca")],
            PASSWORD,
        );
        let store = key_store_from_bytes(&jks, Some(PASSWORD), StoreType::Jks).unwrap();
        assert_server_identity(&store);
        let trusted = trust_store_from_bytes(&jks, Some(PASSWORD), StoreType::Jks).unwrap();
        assert_eq!(trusted.roots, pem_certs("ca.pem"));
    }
}

#[test]
fn built_jks_with_two_keys_uses_the_first() {
    let second = TestEntry::Key {
        alias: "other",
        protected_key: protect_key(&server_key(), PASSWORD),
        chain: pem_certs("ca.pem"),
    };
    let jks = build_jks(
        2,
        X509,
        &[server_key_entry("first", PASSWORD), second],
        PASSWORD,
    );
    let store = key_store_from_bytes(&jks, Some(PASSWORD), StoreType::Jks).unwrap();
    assert_eq!(store.chain, server_chain());
}

#[test]
fn built_jks_key_with_its_own_password_is_refused() {
    let jks = build_jks(2, X509, &[server_key_entry("server", "keypass")], PASSWORD);
    let err = key_store_from_bytes(&jks, Some(PASSWORD), StoreType::Jks).unwrap_err();
    assert!(matches!(err, StoreProblem::WrongPassword(_)), "{err}");
    assert!(err.to_string().contains("key password of its own"), "{err}");
}

#[test]
fn built_jks_refusals() {
    let entries = [server_key_entry("server", PASSWORD)];

    let pgp = build_jks(2, Some("PGP"), &entries, PASSWORD);
    let err = key_store_from_bytes(&pgp, Some(PASSWORD), StoreType::Jks).unwrap_err();
    assert!(matches!(err, StoreProblem::Unsupported(_)), "{err}");

    let v3 = build_jks(3, X509, &entries, PASSWORD);
    let err = key_store_from_bytes(&v3, Some(PASSWORD), StoreType::Jks).unwrap_err();
    assert!(matches!(err, StoreProblem::Malformed { .. }), "{err}");

    // Tag 3 (a JCEKS secret key) in place of tag 1.
    let mut tag3 = build_jks(2, X509, &entries, PASSWORD);
    tag3[15] = 3;
    let err = key_store_from_bytes(&tag3, None, StoreType::Jks).unwrap_err();
    assert!(err.to_string().contains("unknown tag 3"), "{err}");

    let no_chain = [TestEntry::Key {
        alias: "bare",
        protected_key: protect_key(&server_key(), PASSWORD),
        chain: Vec::new(),
    }];
    let jks = build_jks(2, X509, &no_chain, PASSWORD);
    let err = key_store_from_bytes(&jks, Some(PASSWORD), StoreType::Jks).unwrap_err();
    assert!(matches!(err, StoreProblem::NoCertificate(_)), "{err}");

    let empty = build_jks(2, X509, &[], PASSWORD);
    assert!(matches!(
        trust_store_from_bytes(&empty, Some(PASSWORD), StoreType::Jks),
        Err(StoreProblem::NoCertificate(_))
    ));
}

#[test]
fn jks_lengths_and_counts_are_bounded_by_the_file() {
    // One trusted entry whose certificate claims 4 GiB, in a file of a few bytes.
    let mut huge_cert = vec![0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
    java_utf(&mut huge_cert, "ca");
    huge_cert.extend([0; 8]);
    java_utf(&mut huge_cert, "X.509");
    huge_cert.extend([0xFF, 0xFF, 0xFF, 0xFF]);
    huge_cert.extend([0x30; 64]);
    let err = trust_store_from_bytes(&huge_cert, None, StoreType::Jks).unwrap_err();
    assert!(matches!(err, StoreProblem::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("4294967295"), "{err}");

    // Four billion entries announced, none present.
    let huge_count = [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF];
    assert!(trust_store_from_bytes(&huge_count, None, StoreType::Jks).is_err());

    // A key entry announcing four billion certificates.
    let mut huge_chain = vec![0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1];
    java_utf(&mut huge_chain, "k");
    huge_chain.extend([0; 8]);
    huge_chain.extend([0, 0, 0, 1, 0x30]);
    huge_chain.extend([0xFF, 0xFF, 0xFF, 0xFF]);
    assert!(key_store_from_bytes(&huge_chain, None, StoreType::Jks).is_err());
}

#[test]
fn jks_bytes_after_the_digest_are_ignored_as_java_ignores_them() {
    let mut jks = read("trust.jks");
    jks.extend(b"trailing");
    let store = trust_store_from_bytes(&jks, Some(PASSWORD), StoreType::Jks).unwrap();
    assert_eq!(store.roots, pem_certs("ca.pem"));
}

// ---- hostile encryption parameters ----

/// PBES2 parameters with scrypt (`n` = cost) and AES-256-CBC.
fn pbes2_scrypt(n: u8) -> Vec<u8> {
    let scrypt_params = tlv(
        0x30,
        &[
            tlv(0x04, &[7; 8]),
            vec![0x02, 0x01, n],
            vec![0x02, 0x01, 8],
            vec![0x02, 0x01, 1],
        ]
        .concat(),
    );
    let kdf = tlv(
        0x30,
        &[oid("1.3.6.1.4.1.11591.4.11"), scrypt_params].concat(),
    );
    let cipher = tlv(
        0x30,
        &[oid("2.16.840.1.101.3.4.1.42"), tlv(0x04, &[9; 16])].concat(),
    );
    tlv(
        0x30,
        &[
            oid("1.2.840.113549.1.5.13"),
            tlv(0x30, &[kdf, cipher].concat()),
        ]
        .concat(),
    )
}

#[test]
fn encrypted_pem_key_with_hostile_kdf_parameters_is_an_error() {
    use base64::Engine as _;
    let cert = String::from_utf8(read("server.pem")).unwrap();
    let pem = |der: &[u8]| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{b64}\n-----END ENCRYPTED PRIVATE KEY-----\n{cert}"
        )
    };
    // scrypt with cost 0 makes pkcs5 panic: it must be refused before.
    let zero_cost = tlv(0x30, &[pbes2_scrypt(0), tlv(0x04, &[0; 16])].concat());
    let err = key_store_from_bytes(pem(&zero_cost).as_bytes(), Some(PASSWORD), StoreType::Pem)
        .unwrap_err();
    assert!(err.to_string().contains("scrypt cost 0"), "{err}");

    // PBKDF2 with 2^31 - 1 iterations would take hours.
    let pbkdf2_params = tlv(
        0x30,
        &[tlv(0x04, &[7; 8]), vec![0x02, 0x04, 0x7F, 0xFF, 0xFF, 0xFF]].concat(),
    );
    let kdf = tlv(
        0x30,
        &[oid("1.2.840.113549.1.5.12"), pbkdf2_params].concat(),
    );
    let cipher = tlv(
        0x30,
        &[oid("2.16.840.1.101.3.4.1.42"), tlv(0x04, &[9; 16])].concat(),
    );
    let algorithm = tlv(
        0x30,
        &[
            oid("1.2.840.113549.1.5.13"),
            tlv(0x30, &[kdf, cipher].concat()),
        ]
        .concat(),
    );
    let slow = tlv(0x30, &[algorithm, tlv(0x04, &[0; 16])].concat());
    let err =
        key_store_from_bytes(pem(&slow).as_bytes(), Some(PASSWORD), StoreType::Pem).unwrap_err();
    assert!(matches!(err, StoreProblem::Unsupported(_)), "{err}");
}

#[test]
fn mac_less_pkcs12_with_hostile_scrypt_cost_is_an_error() {
    // PFX v3, no MAC, one encryptedData content whose PBES2/scrypt cost is 0.
    let encrypted_content_info = tlv(
        0x30,
        &[
            oid("1.2.840.113549.1.7.1"),
            pbes2_scrypt(0),
            tlv(0x80, &[0; 16]),
        ]
        .concat(),
    );
    let encrypted_data = tlv(
        0x30,
        &[vec![0x02, 0x01, 0x00], encrypted_content_info].concat(),
    );
    let content_info = tlv(
        0x30,
        &[oid("1.2.840.113549.1.7.6"), tlv(0xA0, &encrypted_data)].concat(),
    );
    let auth_safe = tlv(0x30, &content_info);
    let pfx = tlv(
        0x30,
        &[
            vec![0x02, 0x01, 0x03],
            tlv(
                0x30,
                &[
                    oid("1.2.840.113549.1.7.1"),
                    tlv(0xA0, &tlv(0x04, &auth_safe)),
                ]
                .concat(),
            ),
        ]
        .concat(),
    );
    // p12-keystore passes the cost to pkcs5, which panics on it; `open` catches that.
    let err = trust_store_from_bytes(&pfx, Some(PASSWORD), StoreType::Pkcs12).unwrap_err();
    assert!(matches!(err, StoreProblem::Malformed { .. }), "{err}");
}

// ---- damaged files: never a panic ----

const BINARY_FIXTURES: [&str; 6] = [
    "server.jks",
    "trust.jks",
    "server-keytool.p12",
    "server-openssl.p12",
    "trust-keytool.p12",
    "trust-openssl.p12",
];

const PEM_FIXTURES: [&str; 5] = [
    "server-keystore.pem",
    "server-sec1-keystore.pem",
    "server-encrypted-keystore.pem",
    "rsa-pkcs1-keystore.pem",
    "ca.pem",
];

#[test]
fn every_truncation_of_a_binary_store_is_an_error() {
    for name in BINARY_FIXTURES {
        let data = read(name);
        for len in 0..data.len() {
            let cut = &data[..len];
            for password in [Some(PASSWORD), None] {
                assert!(
                    key_store_from_bytes(cut, password, StoreType::Jks).is_err(),
                    "{name} cut at {len}"
                );
                assert!(
                    trust_store_from_bytes(cut, password, StoreType::Jks).is_err(),
                    "{name} cut at {len}"
                );
            }
        }
    }
}

#[test]
fn every_truncation_of_a_pem_store_is_handled() {
    for name in PEM_FIXTURES {
        let data = read(name);
        // Decrypting the key takes the password's key derivation each time, which is
        // slow in a debug build; the cuts reach the decryption only with the whole key.
        let password = if name.contains("encrypted") {
            None
        } else {
            Some(PASSWORD)
        };
        for len in 0..data.len() {
            // A cut after the last END line still holds a whole store; anything else is
            // an error. Either way, no panic.
            let _ = key_store_from_bytes(&data[..len], password, StoreType::Pem);
            let _ = trust_store_from_bytes(&data[..len], None, StoreType::Pem);
        }
    }
}

/// xorshift64: deterministic bytes without a random-number dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn load_all_ways(data: &[u8], password: Option<&str>) {
    for kind in [StoreType::Pem, StoreType::Pkcs12, StoreType::Jks] {
        let _ = key_store_from_bytes(data, password, kind);
        let _ = trust_store_from_bytes(data, password, kind);
    }
}

#[test]
fn random_bytes_are_errors() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    // Prefixes that lead the parsers past their first checks.
    let prefixes: [&[u8]; 6] = [
        b"",
        &[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0, 0, 0, 3],
        &[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1],
        &[0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x03],
        b"-----BEGIN CERTIFICATE-----\n",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
    ];
    for i in 0..3000 {
        let mut data = prefixes[i % prefixes.len()].to_vec();
        let len = rng.below(600);
        data.extend((0..len).map(|_| rng.next() as u8));
        for kind in [StoreType::Pkcs12, StoreType::Jks] {
            assert!(key_store_from_bytes(&data, Some(PASSWORD), kind).is_err());
            assert!(trust_store_from_bytes(&data, None, kind).is_err());
        }
        let _ = key_store_from_bytes(&data, Some(PASSWORD), StoreType::Pem);
        let _ = trust_store_from_bytes(&data, None, StoreType::Pem);
    }
}

#[test]
fn mutated_stores_do_not_panic() {
    let mut rng = XorShift(0x0123_4567_89AB_CDEF);
    for name in BINARY_FIXTURES.iter().chain(PEM_FIXTURES.iter()) {
        let original = read(name);
        // Each attempt at a PKCS#12 file or an encrypted key runs the password's key
        // derivation (thousands of rounds, slow in a debug build): fewer tries there.
        let tries = if name.ends_with(".p12") || name.contains("encrypted") {
            20
        } else {
            400
        };
        for _ in 0..tries {
            let mut data = original.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(data.len());
                data[at] = rng.next() as u8;
            }
            load_all_ways(&data, Some(PASSWORD));
            if !name.ends_with(".p12") {
                load_all_ways(&data, None);
            }
        }
    }
}
