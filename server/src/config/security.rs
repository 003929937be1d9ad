//! Settings that ask for security. ferrokeeper honours a setting or refuses to start
//! naming the key and where it was set: serving plain text to anonymous clients while
//! the configuration asks for TLS or SASL would fail open. Every security-relevant key
//! ZooKeeper knows is decided here; the list and each key's status are in the README
//! ("Security settings").

use super::error::{ConfigError, Origin};
use super::sysprops::SystemProperties;
use super::zoo_cfg::Draft;

/// ZooKeeper's built-in providers, which ferrokeeper implements: a provider line naming
/// them is honoured.
const HONOURED_PROVIDERS: [&str; 4] = [
    "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
    "org.apache.zookeeper.server.auth.IPAuthenticationProvider",
    // The `sasl` scheme; the exchange itself is configured by the JAAS file.
    "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
    // Needs TLS clients; `tls::client_tls` refuses it without them.
    super::tls::X509_PROVIDER_CLASS,
];

const NO_QUORUM_TLS: &str = "TLS towards a followed ZooKeeper ensemble's quorum port is not \
                             supported by ferrokeeper yet, and it will not follow in plain \
                             text where TLS is asked for; remove the setting, or follow \
                             without quorum TLS";
const NO_SASL: &str = "SASL towards a followed ZooKeeper ensemble's quorum port is not \
                       supported by ferrokeeper yet, and it will not follow unauthenticated \
                       where SASL is asked for; remove the setting, or follow without quorum \
                       SASL";

fn refuse(at: &Origin, key: &str, why: &str) -> ConfigError {
    ConfigError::invalid(at, key, why.to_owned())
}

fn is_true(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

/// Refuses the first security setting ferrokeeper cannot honour.
pub(super) fn refuse_unhonoured(d: &Draft, props: &SystemProperties) -> Result<(), ConfigError> {
    for (key, value, at) in &d.security_keys {
        let why = match key.as_str() {
            // The observer's link to a ZooKeeper leader is ZooKeeper's own protocol,
            // which ferrokeeper speaks in plain text only.
            "sslQuorum" | "portUnification" if is_true(value) && d.follow_zookeeper.is_some() => {
                NO_QUORUM_TLS
            }
            // As quorum TLS: the observer speaks ZooKeeper's own quorum protocol.
            "quorum.auth.enableSasl" if is_true(value) && d.follow_zookeeper.is_some() => NO_SASL,
            _ => continue,
        };
        return Err(refuse(at, key, why));
    }
    for (name, prop) in props.iter() {
        let bare = name.strip_prefix("zookeeper.").unwrap_or(name);
        // `ssl.*` (the client port's TLS) and `X509AuthenticationProvider.*` are
        // decided by `tls::client_tls`; `ssl.quorum.*` is read only with sslQuorum or
        // portUnification, both refused above.
        let why = if bare.starts_with("authProvider.") || bare == "authProvider" {
            let class = prop.value.trim();
            (!HONOURED_PROVIDERS.contains(&class)).then_some(
                "ferrokeeper implements ZooKeeper's digest, ip, x509 and SASL \
                 authentication providers, not custom ones, and will not start without \
                 the one asked for; remove the setting, or keep ZooKeeper for this deployment",
            )
        } else {
            match bare {
                "DigestAuthenticationProvider.digestAlg"
                    if !prop.value.trim().eq_ignore_ascii_case("SHA1") =>
                {
                    Some(
                        "ferrokeeper computes digest ids with SHA1 only, as ZooKeeper does by \
                         default; another algorithm would make every digest ACL fail",
                    )
                }
                _ => None,
            }
        };
        if let Some(why) = why {
            return Err(refuse(&prop.origin, &prop.written_as, why));
        }
    }
    Ok(())
}
