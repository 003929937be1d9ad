//! The client port's TLS settings: ZooKeeper's `zookeeper.ssl.*` system properties
//! (`ssl.*` in zoo.cfg), `zookeeper.client.portUnification`, `zookeeper.client.certReload`
//! and the x509 authentication provider. Values are checked here, where the key and
//! the line are known; the stores themselves are read when the server starts.

use std::path::PathBuf;

use super::error::{ConfigError, Origin};
use super::sysprops::SystemProperties;

/// `ssl.clientAuth`: whether the server asks TLS clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No certificate is asked for.
    None,
    /// A certificate is asked for; a client without one is still served.
    Want,
    /// A client without a trusted certificate is refused (ZooKeeper's default).
    Need,
}

/// A TLS protocol version ferrokeeper speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// One key or trust store: `ssl.keyStore.*` or `ssl.trustStore.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub location: PathBuf,
    /// From `.password`, or read from the file `.passwordPath` names.
    pub password: Option<String>,
    /// `.type` as written (PEM, PKCS12, JKS); `None`: inferred from the file name.
    pub kind: Option<String>,
    /// Where the location was set, for messages about the file.
    pub origin: Origin,
    /// The key the location was set under, for messages about the file.
    pub key: String,
}

/// The client port's TLS, when `secureClientPort` or client port unification is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    pub key_store: StoreSettings,
    pub trust_store: Option<StoreSettings>,
    pub client_auth: ClientAuth,
    /// Versions offered, lowest first.
    pub versions: Vec<TlsVersion>,
    /// `ssl.ciphersuites` as written (IANA/Java names); `None`: rustls' defaults.
    pub cipher_suites: Option<(Vec<String>, Origin, String)>,
    /// `zookeeper.client.portUnification`: the plain client port also accepts TLS.
    pub port_unification: bool,
    /// Reload the stores when their files change (`zookeeper.client.certReload`).
    pub reload: bool,
    /// `zookeeper.X509AuthenticationProvider.superUser`: a client whose certificate
    /// has this subject is also `super`. (A TLS port always has the x509 provider:
    /// ZooKeeper registers it itself when a secure client port is configured.)
    pub x509_super_user: Option<String>,
    /// `ssl.handshakeDetectionTimeoutMillis`: how long a unified port waits for the
    /// first byte that tells TLS from plain text.
    pub handshake_detection_timeout_ms: u64,
}

/// ZooKeeper's class name for the x509 provider.
pub const X509_PROVIDER_CLASS: &str = "org.apache.zookeeper.server.auth.X509AuthenticationProvider";

/// The client port's keys; the quorum's are under [`QUORUM_PREFIX`].
const PREFIX: &str = "zookeeper.ssl.";
const QUORUM_PREFIX: &str = "zookeeper.ssl.quorum.";

fn written(props: &SystemProperties, name: &str) -> (Origin, String) {
    props.entry(name).map_or_else(
        || (Origin::Default, name.to_owned()),
        |p| (p.origin.clone(), p.written_as.clone()),
    )
}

/// `.password`, or the content of the file `.passwordPath` names (one trailing line
/// separator dropped, as ZooKeeper's `SecretUtils.readSecret`).
fn password(
    props: &SystemProperties,
    prefix: &str,
    store: &str,
) -> Result<Option<String>, ConfigError> {
    let direct = format!("{prefix}{store}.password");
    let path_key = format!("{prefix}{store}.passwordPath");
    // ZooKeeper reads the path first when it is set.
    if let Some(path) = props.string(&path_key).filter(|p| !p.is_empty()) {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| props.refuse(&path_key, format!("cannot read {path}: {e}")))?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        return Ok(Some(text.to_owned()));
    }
    Ok(props.get(&direct).map(str::to_owned))
}

fn store(
    props: &SystemProperties,
    prefix: &str,
    store: &str,
) -> Result<Option<StoreSettings>, ConfigError> {
    let location_key = format!("{prefix}{store}.location");
    let Some(location) = props.string(&location_key).filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let (origin, key) = written(props, &location_key);
    Ok(Some(StoreSettings {
        location: PathBuf::from(location),
        password: password(props, prefix, store)?,
        kind: props
            .string(&format!("{prefix}{store}.type"))
            .filter(|t| !t.is_empty()),
        origin,
        key,
    }))
}

fn client_auth(props: &SystemProperties) -> Result<ClientAuth, ConfigError> {
    let name = "zookeeper.ssl.clientAuth";
    match props.string(name).as_deref().map(str::to_ascii_uppercase) {
        None => Ok(ClientAuth::Need),
        Some(v) if v.is_empty() || v == "NEED" => Ok(ClientAuth::Need),
        Some(v) if v == "WANT" => Ok(ClientAuth::Want),
        Some(v) if v == "NONE" => Ok(ClientAuth::None),
        Some(v) => Err(props.refuse(name, format!("{v:?} is not one of need, want, none"))),
    }
}

fn version(name: &str) -> Option<TlsVersion> {
    match name.trim() {
        "TLSv1.2" => Some(TlsVersion::Tls12),
        "TLSv1.3" => Some(TlsVersion::Tls13),
        _ => None,
    }
}

/// `ssl.protocol` and `ssl.enabledProtocols`. As the JDK: protocol TLSv1.3 (the
/// default where the JDK has it) enables 1.3 and 1.2; TLSv1.2 enables 1.2 alone; an
/// explicit enabledProtocols list wins. Anything older is refused rather than quietly
/// replaced by a newer version the operator did not list.
fn versions(props: &SystemProperties, prefix: &str) -> Result<Vec<TlsVersion>, ConfigError> {
    let protocol_key = &format!("{prefix}protocol");
    let enabled_key = &format!("{prefix}enabledProtocols");
    if let Some(list) = props.string(enabled_key).filter(|l| !l.is_empty()) {
        let mut out = Vec::new();
        for name in list.split(',') {
            let v = version(name).ok_or_else(|| {
                props.refuse(
                    enabled_key,
                    format!(
                        "{:?} is not supported: ferrokeeper speaks TLSv1.2 and TLSv1.3",
                        name.trim()
                    ),
                )
            })?;
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out.sort();
        return Ok(out);
    }
    match props.string(protocol_key).filter(|p| !p.is_empty()) {
        None => Ok(vec![TlsVersion::Tls12, TlsVersion::Tls13]),
        Some(p) if p == "TLS" => Ok(vec![TlsVersion::Tls12, TlsVersion::Tls13]),
        Some(p) => match version(&p) {
            Some(TlsVersion::Tls13) => Ok(vec![TlsVersion::Tls12, TlsVersion::Tls13]),
            Some(TlsVersion::Tls12) => Ok(vec![TlsVersion::Tls12]),
            None => Err(props.refuse(
                protocol_key,
                format!("{p:?} is not supported: ferrokeeper speaks TLSv1.2 and TLSv1.3"),
            )),
        },
    }
}

/// Keys that ask for something the rustls-based server cannot do; each stops start-up.
fn refuse_unsupported(props: &SystemProperties, prefix: &str) -> Result<(), ConfigError> {
    for name in [format!("{prefix}crl"), format!("{prefix}ocsp")] {
        let name = name.as_str();
        if props.boolean(name, false)? {
            return Err(props.refuse(
                name,
                "certificate revocation checking (CRL/OCSP) is not supported by ferrokeeper \
                 yet, and it will not accept certificates it was asked to check",
            ));
        }
    }
    if prefix == PREFIX && props.boolean("zookeeper.ssl.clientHostnameVerification", false)? {
        return Err(props.refuse(
            "zookeeper.ssl.clientHostnameVerification",
            "verifying client certificates against the client's host name is not supported \
             by ferrokeeper (ZooKeeper does not do it on the client port by default either)",
        ));
    }
    let supplier = format!("{prefix}context.supplier.class");
    if props.get(&supplier).is_some() {
        return Err(props.refuse(
            &supplier,
            "a Java SSLContext supplier cannot be loaded by ferrokeeper; configure the \
             ssl.keyStore/ssl.trustStore files instead",
        ));
    }
    if let Some(p) = props
        .string("zookeeper.ssl.authProvider")
        .filter(|p| p != "x509")
    {
        return Err(props.refuse(
            "zookeeper.ssl.authProvider",
            format!("{p:?}: only ZooKeeper's x509 provider is supported for TLS clients"),
        ));
    }
    Ok(())
}

/// The client TLS settings, if TLS is asked for: `secure` is whether a secure client
/// port is configured.
pub(super) fn client_tls(
    props: &SystemProperties,
    secure: bool,
) -> Result<Option<ClientTls>, ConfigError> {
    let port_unification = props.boolean("zookeeper.client.portUnification", false)?;
    if !secure && !port_unification {
        // ssl.* keys without a TLS port: ZooKeeper never reads them either (the load
        // warns about them).
        return Ok(None);
    }
    let why_tls = if secure {
        "secureClientPort is set"
    } else {
        "client.portUnification is true"
    };
    refuse_unsupported(props, PREFIX)?;
    let key_store = store(props, PREFIX, "keyStore")?.ok_or_else(|| {
        props.refuse(
            "zookeeper.ssl.keyStore.location",
            format!(
                "{why_tls}, so the server needs its certificate and key: set ssl.keyStore.location"
            ),
        )
    })?;
    let trust_store = store(props, PREFIX, "trustStore")?;
    let client_auth = client_auth(props)?;
    if client_auth != ClientAuth::None && trust_store.is_none() {
        // The JVM would fall back to its own CA bundle; ferrokeeper has none to offer,
        // and accepting any certificate would fail open.
        return Err(props.refuse(
            "zookeeper.ssl.trustStore.location",
            "client certificates are asked for (ssl.clientAuth is need or want; need is \
             the default) but no trust store says which to accept: set \
             ssl.trustStore.location, or ssl.clientAuth=none",
        ));
    }
    let cipher_suites = cipher_suites(props, PREFIX);
    let timeout = props.int(
        "zookeeper.ssl.handshakeDetectionTimeoutMillis",
        DEFAULT_HANDSHAKE_DETECTION_MS,
    )?;
    Ok(Some(ClientTls {
        key_store,
        trust_store,
        client_auth,
        versions: versions(props, PREFIX)?,
        cipher_suites,
        port_unification,
        // ZooKeeper 3.9 reloads only when asked; ferrokeeper does by default (a bad new
        // file is logged and the old certificates stay), and honours an explicit false.
        reload: props.boolean("zookeeper.client.certReload", true)?,
        x509_super_user: props
            .string("zookeeper.X509AuthenticationProvider.superUser")
            .filter(|s| !s.is_empty()),
        // ZooKeeper replaces a value below 1 by the default, with a warning.
        handshake_detection_timeout_ms: u64::try_from(timeout)
            .ok()
            .filter(|t| *t >= 1)
            .unwrap_or(DEFAULT_HANDSHAKE_DETECTION_MS as u64),
    }))
}

/// `ssl.ciphersuites` as written, with where it was set.
fn cipher_suites(props: &SystemProperties, prefix: &str) -> Option<(Vec<String>, Origin, String)> {
    let name = format!("{prefix}ciphersuites");
    let list = props.string(&name).filter(|l| !l.is_empty())?;
    let (at, key) = written(props, &name);
    let names = list
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    Some((names, at, key))
}

/// TLS between servers: `sslQuorum=true` (or `portUnification=true`, the rolling
/// upgrade step that accepts both) with the `ssl.quorum.*` stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumTls {
    pub key_store: StoreSettings,
    /// Required: peers prove themselves with certificates this store trusts.
    pub trust_store: StoreSettings,
    pub versions: Vec<TlsVersion>,
    pub cipher_suites: Option<(Vec<String>, Origin, String)>,
    /// `sslQuorum`: connect to peers with TLS (false during the first rolling step).
    pub connect_with_tls: bool,
    /// `portUnification`: the quorum port also accepts plain peers.
    pub accept_plain: bool,
    /// `ssl.quorum.hostnameVerification` (default true): a peer's certificate must
    /// name the host its `server.N` line gives, in both directions, as ZooKeeper's
    /// quorum trust manager checks.
    pub hostname_verification: bool,
    /// `sslQuorumReloadCertFiles`.
    pub reload: bool,
}

/// The quorum TLS settings from the zoo.cfg switches (`sslQuorum`, `portUnification`,
/// `sslQuorumReloadCertFiles`, each with where it was set) and the `ssl.quorum.*`
/// properties; `None` when neither switch asks for TLS.
pub(super) fn quorum_tls(
    props: &SystemProperties,
    ssl_quorum: Option<(bool, Origin)>,
    port_unification: Option<(bool, Origin)>,
    reload: bool,
) -> Result<Option<QuorumTls>, ConfigError> {
    let connect_with_tls = ssl_quorum.as_ref().is_some_and(|(on, _)| *on);
    let accept_plain = port_unification.as_ref().is_some_and(|(on, _)| *on);
    if !connect_with_tls && !accept_plain {
        return Ok(None);
    }
    let (why, at) = match (&ssl_quorum, &port_unification) {
        (Some((true, at)), _) => ("sslQuorum is true", at.clone()),
        (_, Some((_, at))) => ("portUnification is true", at.clone()),
        _ => ("quorum TLS is on", Origin::Default),
    };
    refuse_unsupported(props, QUORUM_PREFIX)?;
    let needed = |what: &str| {
        ConfigError::invalid(
            &at,
            if connect_with_tls {
                "sslQuorum"
            } else {
                "portUnification"
            },
            format!("{why}, so ssl.quorum.{what}.location must be set"),
        )
    };
    let key_store = store(props, QUORUM_PREFIX, "keyStore")?.ok_or_else(|| needed("keyStore"))?;
    let trust_store =
        store(props, QUORUM_PREFIX, "trustStore")?.ok_or_else(|| needed("trustStore"))?;
    // Members always prove themselves to each other; a quorum that would take peers
    // without a certificate is refused rather than quietly made stricter.
    let auth_key = "zookeeper.ssl.quorum.clientAuth";
    if let Some(auth) = props
        .string(auth_key)
        .filter(|a| !a.eq_ignore_ascii_case("need"))
    {
        return Err(props.refuse(
            auth_key,
            format!("{auth:?}: peers always present certificates in ferrokeeper (need)"),
        ));
    }
    let hostname = props.boolean("zookeeper.ssl.quorum.hostnameVerification", true)?;
    let client_hostname =
        props.boolean("zookeeper.ssl.quorum.clientHostnameVerification", hostname)?;
    if hostname != client_hostname {
        return Err(props.refuse(
            "zookeeper.ssl.quorum.clientHostnameVerification",
            "ferrokeeper checks peers' host names in both directions or in neither; set it \
             like ssl.quorum.hostnameVerification",
        ));
    }
    Ok(Some(QuorumTls {
        key_store,
        trust_store,
        versions: versions(props, QUORUM_PREFIX)?,
        cipher_suites: cipher_suites(props, QUORUM_PREFIX),
        connect_with_tls,
        accept_plain,
        hostname_verification: hostname,
        reload,
    }))
}

/// ZooKeeper's `DEFAULT_HANDSHAKE_DETECTION_TIMEOUT_MILLIS`.
const DEFAULT_HANDSHAKE_DETECTION_MS: i32 = 5000;

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> SystemProperties {
        let mut p = SystemProperties::default();
        for (i, (k, v)) in pairs.iter().enumerate() {
            let at = Origin::File {
                path: "zoo.cfg".into(),
                line: i + 1,
            };
            p.set(&format!("zookeeper.{k}"), v, at, k);
        }
        p
    }

    const STORES: [(&str, &str); 2] = [
        ("ssl.keyStore.location", "/k.pem"),
        ("ssl.trustStore.location", "/t.pem"),
    ];

    /// Both stores, then `extra`.
    fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        STORES.iter().chain(extra).copied().collect()
    }

    #[test]
    fn no_tls_port_means_no_tls() {
        assert_eq!(client_tls(&props(&STORES), false).ok(), Some(None));
    }

    #[test]
    fn defaults_follow_zookeeper() {
        let tls = client_tls(&props(&STORES), true)
            .ok()
            .flatten()
            .expect("tls settings");
        assert_eq!(tls.client_auth, ClientAuth::Need);
        assert_eq!(tls.versions, vec![TlsVersion::Tls12, TlsVersion::Tls13]);
        assert_eq!(tls.key_store.location, PathBuf::from("/k.pem"));
        assert!(tls.x509_super_user.is_none());
        assert_eq!(tls.handshake_detection_timeout_ms, 5000);
    }

    #[test]
    fn missing_stores_are_refused_with_the_key() {
        let e = client_tls(&props(&[]), true).expect_err("refused");
        assert!(e.to_string().contains("ssl.keyStore.location"), "{e}");
        let e = client_tls(&props(&STORES[..1]), true).expect_err("refused");
        assert!(e.to_string().contains("ssl.trustStore.location"), "{e}");
        let ok = client_tls(&props(&with(&[("ssl.clientAuth", "none")])[1..]), true);
        assert!(ok.is_err(), "key store still needed");
        let ok = client_tls(
            &props(&[
                ("ssl.keyStore.location", "/k.pem"),
                ("ssl.clientAuth", "none"),
            ]),
            true,
        );
        assert!(matches!(ok, Ok(Some(_))));
    }

    #[test]
    fn protocols() {
        let v = |extra: &[(&str, &str)]| {
            client_tls(&props(&with(extra)), true).map(|t| t.map(|t| t.versions))
        };
        assert_eq!(
            v(&[("ssl.protocol", "TLSv1.2")]).ok().flatten(),
            Some(vec![TlsVersion::Tls12])
        );
        assert_eq!(
            v(&[("ssl.enabledProtocols", "TLSv1.3")]).ok().flatten(),
            Some(vec![TlsVersion::Tls13])
        );
        let e = v(&[("ssl.enabledProtocols", "TLSv1.3,TLSv1.1")]).expect_err("refused");
        assert!(
            e.to_string()
                .starts_with("zoo.cfg:3: ssl.enabledProtocols:"),
            "{e}"
        );
        assert!(v(&[("ssl.protocol", "SSLv3")]).is_err());
    }

    #[test]
    fn unsupported_keys_stop_start_up() {
        for (k, v) in [
            ("ssl.crl", "true"),
            ("ssl.ocsp", "true"),
            ("ssl.clientHostnameVerification", "true"),
            ("ssl.context.supplier.class", "com.example.Supplier"),
            ("ssl.authProvider", "custom"),
            ("ssl.clientAuth", "maybe"),
        ] {
            let e = client_tls(&props(&with(&[(k, v)])), true)
                .err()
                .unwrap_or_else(|| panic!("{k}={v} accepted"));
            assert!(e.to_string().contains(k), "{e}");
        }
        assert!(client_tls(&props(&with(&[("ssl.crl", "false")])), true).is_ok());
    }

    #[test]
    fn x509_super_user() {
        let tls = client_tls(
            &props(&with(&[(
                "X509AuthenticationProvider.superUser",
                "CN=admin",
            )])),
            true,
        )
        .ok()
        .flatten()
        .expect("tls");
        assert_eq!(tls.x509_super_user.as_deref(), Some("CN=admin"));
    }

    #[test]
    fn password_path_is_read_without_its_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").expect("write");
        let path = file.display().to_string();
        let tls = client_tls(&props(&with(&[("ssl.keyStore.passwordPath", &path)])), true)
            .ok()
            .flatten()
            .expect("tls");
        assert_eq!(tls.key_store.password.as_deref(), Some("s3cret"));
        let e = client_tls(
            &props(&with(&[("ssl.keyStore.passwordPath", "/nonexistent/pw")])),
            true,
        )
        .expect_err("unreadable password file");
        assert!(e.to_string().contains("ssl.keyStore.passwordPath"), "{e}");
    }
}
