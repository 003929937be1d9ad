//! Client SASL and enforced authentication: the JAAS file
//! (`java.security.auth.login.config`) and its `Server` section
//! (`zookeeper.sasl.serverconfig`), the SASL super users, and
//! `enforce.auth.enabled`/`enforce.auth.schemes`/`sessionRequireClientSASLAuth`.

use std::path::PathBuf;
use std::sync::Arc;

use super::error::{ConfigError, Origin};
use super::sysprops::SystemProperties;
use crate::sasl::{self, DigestUsers, JaasError};

/// DIGEST-MD5 for client sessions, from the JAAS file's server section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSasl {
    pub users: Arc<DigestUsers>,
    /// `zookeeper.superUser[.*]`: these SASL ids are also `super`.
    pub super_users: Vec<String>,
    pub remove_host: bool,
    pub remove_realm: bool,
    /// `zookeeper.allowSaslFailedClients`: a failed exchange keeps the connection.
    pub allow_failed_clients: bool,
}

/// Authentication every session must have before anything but auth and SASL requests
/// (ZooKeeper's `AuthenticationHelper`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnforceAuth {
    /// A session holding an id of one of these schemes may proceed.
    pub schemes: Vec<String>,
}

impl EnforceAuth {
    /// Whether a failed SASL exchange is answered with SessionClosedRequireSaslAuth.
    pub fn requires_sasl(&self) -> bool {
        self.schemes.iter().any(|s| s == "sasl")
    }
}

/// The client SASL settings, or `None` when no JAAS file names a server section (as
/// ZooKeeper, which then answers SASL requests with an empty token). `warn` receives
/// what is worth telling the operator.
pub(super) fn client_sasl(
    props: &SystemProperties,
    warn: &mut dyn FnMut(String),
) -> Result<Option<ClientSasl>, ConfigError> {
    if props.get(sasl::LET_ANY_SASL_USER_PROPERTY).is_some() {
        return Err(props.refuse(
            sasl::LET_ANY_SASL_USER_PROPERTY,
            "an ACL that admits every SASL user is not supported by ferrokeeper; name the \
             users in the ACLs instead",
        ));
    }
    let file_prop = sasl::JAAS_FILE_PROPERTY;
    let Some(file) = props.string(file_prop).filter(|f| !f.is_empty()) else {
        if let Some(p) = props.entry(sasl::LOGIN_CONTEXT_PROPERTY) {
            warn(format!(
                "{}: {}: no JAAS file (java.security.auth.login.config) is set, so client \
                 SASL is off, as in ZooKeeper",
                p.origin, p.written_as
            ));
        }
        return Ok(None);
    };
    // `-Djava.security.auth.login.config==file` means "this file only" to Java.
    let file = PathBuf::from(file.strip_prefix('=').unwrap_or(&file));
    let jaas = sasl::jaas::load(&file).map_err(|e| props.refuse(file_prop, e.to_string()))?;
    let explicit_section = props.string(sasl::LOGIN_CONTEXT_PROPERTY);
    let section = explicit_section
        .clone()
        .unwrap_or_else(|| sasl::DEFAULT_LOGIN_CONTEXT.to_owned());
    let mut users = match jaas.digest_users(&section) {
        Ok(users) => users,
        Err(JaasError::NoSection { .. }) if explicit_section.is_none() => {
            // ZooKeeper starts without client SASL then (kazoo's harness always passes
            // a JAAS file, often an empty one).
            warn(format!(
                "{}: {file_prop}: {} has no '{section}' section, so client SASL is off, as \
                 in ZooKeeper",
                props
                    .entry(file_prop)
                    .map_or(Origin::Default, |p| p.origin.clone()),
                file.display()
            ));
            return Ok(None);
        }
        Err(e) => {
            let name = if matches!(e, JaasError::NoSection { .. }) {
                sasl::LOGIN_CONTEXT_PROPERTY
            } else {
                file_prop
            };
            return Err(props.refuse(name, e.to_string()));
        }
    };
    if let Some(password) = props.get(sasl::SUPER_PASSWORD_PROPERTY) {
        users.set_super_password(password);
    }
    Ok(Some(ClientSasl {
        users: Arc::new(users),
        super_users: sasl::super_users(props.iter().map(|(name, p)| (name, p.value.as_str()))),
        remove_host: props.boolean(sasl::REMOVE_HOST_PROPERTY, false)?,
        remove_realm: props.boolean(sasl::REMOVE_REALM_PROPERTY, false)?,
        allow_failed_clients: props.boolean("zookeeper.allowSaslFailedClients", false)?,
    }))
}

/// SASL between the servers of an ensemble (`quorum.auth.*`), DIGEST-MD5 with the
/// JAAS file's `QuorumServer` users (checking peers that connect here) and
/// `QuorumLearner` credentials (proving this server to the peers it connects to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumSasl {
    pub server_users: Arc<DigestUsers>,
    /// `(username, password)` of the learner section.
    pub learner: (String, String),
    /// `quorum.auth.serverRequireSasl`: a peer that does not authenticate is refused.
    pub server_require: bool,
    /// `quorum.auth.learnerRequireSasl`: this server does not talk to a peer that does
    /// not authenticate it.
    pub learner_require: bool,
}

/// The zoo.cfg switches of quorum SASL: `(key, value, where)`, as written.
pub(super) type Switches<'a> = &'a [(String, String, Origin)];

/// Quorum SASL from the `quorum.auth.*` switches and the JAAS file; `None` when
/// `quorum.auth.enableSasl` is off (then neither require switch may be on, as in
/// ZooKeeper).
pub(super) fn quorum_sasl(
    props: &SystemProperties,
    switches: Switches<'_>,
) -> Result<Option<QuorumSasl>, ConfigError> {
    let get = |name: &str| {
        switches
            .iter()
            .rev()
            .find(|(k, _, _)| k == name)
            .map(|(_, v, at)| (v.trim().to_owned(), at.clone()))
    };
    let on = |name: &str| get(name).is_some_and(|(v, _)| v.eq_ignore_ascii_case("true"));
    let enabled = on("quorum.auth.enableSasl");
    for required in [
        "quorum.auth.learnerRequireSasl",
        "quorum.auth.serverRequireSasl",
    ] {
        if on(required) && !enabled {
            let at = get(required).map(|(_, at)| at).unwrap_or(Origin::Default);
            return Err(ConfigError::invalid(
                &at,
                required,
                "quorum.auth.enableSasl is off, so this cannot be on (as in ZooKeeper)",
            ));
        }
    }
    if !enabled {
        return Ok(None);
    }
    let at = get("quorum.auth.enableSasl").map_or(Origin::Default, |(_, at)| at);
    let file_prop = sasl::JAAS_FILE_PROPERTY;
    let Some(file) = props.string(file_prop).filter(|f| !f.is_empty()) else {
        return Err(ConfigError::invalid(
            &at,
            "quorum.auth.enableSasl",
            "quorum SASL needs a JAAS file with QuorumServer and QuorumLearner sections: \
             set java.security.auth.login.config",
        ));
    };
    let file = PathBuf::from(file.strip_prefix('=').unwrap_or(&file));
    let jaas = sasl::jaas::load(&file).map_err(|e| props.refuse(file_prop, e.to_string()))?;
    let section = |key: &str, default: &str| {
        get(key)
            .map(|(v, _)| v)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    let server_section = section("quorum.auth.server.saslLoginContext", "QuorumServer");
    let learner_section = section("quorum.auth.learner.saslLoginContext", "QuorumLearner");
    let refuse = |e: JaasError| props.refuse(file_prop, e.to_string());
    let server_users = jaas.digest_users(&server_section).map_err(refuse)?;
    let learner = jaas.digest_credentials(&learner_section).map_err(refuse)?;
    Ok(Some(QuorumSasl {
        server_users: Arc::new(server_users),
        learner,
        server_require: on("quorum.auth.serverRequireSasl"),
        learner_require: on("quorum.auth.learnerRequireSasl"),
    }))
}

/// `sessionRequireClientSASLAuth` (which implies `sasl`) or `enforce.auth.enabled` with
/// its schemes. A scheme no session here could ever hold stops start-up, as ZooKeeper
/// refuses a scheme without a provider.
pub(super) fn enforce_auth(
    props: &SystemProperties,
    tls: bool,
    sasl: bool,
) -> Result<Option<EnforceAuth>, ConfigError> {
    let require_sasl = "zookeeper.sessionRequireClientSASLAuth";
    let enabled = "zookeeper.enforce.auth.enabled";
    let schemes_key = "zookeeper.enforce.auth.schemes";
    let (schemes, key) = if props.boolean(require_sasl, false)? {
        (vec!["sasl".to_owned()], require_sasl)
    } else if props.boolean(enabled, false)? {
        let schemes: Vec<String> = props
            .get(schemes_key)
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if schemes.is_empty() {
            return Err(props.refuse(
                enabled,
                "enforce.auth.enabled is true, so enforce.auth.schemes must name the schemes",
            ));
        }
        (schemes, schemes_key)
    } else {
        return Ok(None);
    };
    for scheme in &schemes {
        let why = match scheme.as_str() {
            "digest" | "ip" => continue,
            "x509" if tls => continue,
            "x509" => {
                "x509 ids come from TLS client certificates, and no TLS client port is \
                       configured"
            }
            "sasl" if sasl => continue,
            "sasl" => {
                "sasl ids come from SASL, and no JAAS server section is configured \
                       (java.security.auth.login.config)"
            }
            _ => "ferrokeeper has no authentication provider for this scheme",
        };
        return Err(props.refuse(key, format!("scheme {scheme:?} cannot be enforced: {why}")));
    }
    Ok(Some(EnforceAuth { schemes }))
}

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
            p.set(k, v, at, k);
        }
        p
    }

    fn sasl_of(pairs: &[(&str, &str)]) -> (Result<Option<ClientSasl>, ConfigError>, Vec<String>) {
        let mut warnings = Vec::new();
        let r = client_sasl(&props(pairs), &mut |w| warnings.push(w));
        (r, warnings)
    }

    #[test]
    fn jaas_server_section_gives_users_and_super_users() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("jaas.conf");
        std::fs::write(
            &file,
            "Server {\n org.apache.zookeeper.server.auth.DigestLoginModule required\n \
             user_super=\"admin\" user_bob=\"pw\";\n};\n",
        )
        .expect("write");
        let path = file.display().to_string();
        let eq_path = format!("={path}");
        let (got, _) = sasl_of(&[
            ("java.security.auth.login.config", &eq_path),
            ("zookeeper.superUser", "bob"),
            ("zookeeper.SASLAuthenticationProvider.superPassword", "root"),
        ]);
        let got = got.ok().flatten().expect("sasl on");
        assert_eq!(got.users.password("bob"), Some("pw"));
        assert_eq!(got.users.password("super"), Some("root"));
        assert_eq!(got.super_users, vec!["bob".to_owned()]);

        // No Server section: off, with a warning; unless the section was named.
        std::fs::write(&file, "Client { x.Y required; };\n").expect("write");
        let (got, warnings) = sasl_of(&[("java.security.auth.login.config", &path)]);
        assert!(matches!(got, Ok(None)));
        assert!(warnings[0].contains("no 'Server' section"), "{warnings:?}");
        let (got, _) = sasl_of(&[
            ("java.security.auth.login.config", &path),
            ("zookeeper.sasl.serverconfig", "Mine"),
        ]);
        let e = got.expect_err("named section missing");
        assert!(e.to_string().contains("zookeeper.sasl.serverconfig"), "{e}");

        // Kerberos is refused, naming the setting.
        std::fs::write(
            &file,
            "Server { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true; };\n",
        )
        .expect("write");
        let (got, _) = sasl_of(&[("java.security.auth.login.config", &path)]);
        let e = got.expect_err("GSSAPI refused");
        assert!(
            e.to_string().contains("java.security.auth.login.config")
                && e.to_string().contains("Krb5LoginModule"),
            "{e}"
        );
        let (got, _) = sasl_of(&[("java.security.auth.login.config", "/nonexistent/jaas")]);
        assert!(got.is_err());
    }

    #[test]
    fn enforcement() {
        let on = |pairs: &[(&str, &str)], tls, sasl| enforce_auth(&props(pairs), tls, sasl);
        assert_eq!(on(&[], false, false).ok(), Some(None));
        let e = on(&[("zookeeper.enforce.auth.enabled", "true")], false, false);
        assert!(e.is_err());
        let got = on(
            &[
                ("zookeeper.enforce.auth.enabled", "true"),
                ("zookeeper.enforce.auth.schemes", "digest, x509"),
            ],
            true,
            false,
        );
        assert_eq!(
            got.ok().flatten().map(|e| e.schemes),
            Some(vec!["digest".to_owned(), "x509".to_owned()])
        );
        let e = on(
            &[
                ("zookeeper.enforce.auth.enabled", "true"),
                ("zookeeper.enforce.auth.schemes", "x509"),
            ],
            false,
            false,
        )
        .expect_err("x509 without TLS");
        assert!(
            e.to_string()
                .contains("zoo.cfg:2: zookeeper.enforce.auth.schemes"),
            "{e}"
        );
        let required = on(
            &[("zookeeper.sessionRequireClientSASLAuth", "true")],
            false,
            true,
        );
        assert!(required.ok().flatten().is_some_and(|e| e.requires_sasl()));
        assert!(
            on(
                &[("zookeeper.sessionRequireClientSASLAuth", "true")],
                false,
                false
            )
            .is_err()
        );
    }
}
