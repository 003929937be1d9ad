//! SASL for client sessions, as ZooKeeper's server does it: the DIGEST-MD5 mechanism
//! (RFC 2831, behaving like Java's `com.sun.security.sasl.digest.DigestMD5Server`, which
//! ZooKeeper uses) with users from the JAAS login configuration file.
//!
//! This module is pure: no sockets, no clocks. `jaas::load` reads the JAAS file; the
//! caller (the connection layer) feeds the tokens of `sasl` requests (opcode 102) to a
//! [`DigestMd5Server`], one per connection, and on [`Step::Done`] adds the Id
//! `sasl:<authorization_id>` to the session, plus `super:` when [`is_super_user`] says so.
//!
//! Only DIGEST-MD5 with qop `auth` is supported. GSSAPI (Kerberos) is not: a JAAS section
//! holding any other login module than ZooKeeper's `DigestLoginModule` is refused by
//! [`JaasConfig::digest_users`], so the caller can refuse to start.

pub mod digest_md5;
pub mod jaas;

use std::collections::HashMap;
use std::fmt;

pub use digest_md5::{DigestMd5Server, MAX_TOKEN_LEN, SaslError, Step, sasl_id};
pub use jaas::{JaasConfig, JaasError, LoginModule};

/// The system property naming the JAAS section of the server
/// (`ZooKeeperSaslServer.LOGIN_CONTEXT_NAME_KEY`).
pub const LOGIN_CONTEXT_PROPERTY: &str = "zookeeper.sasl.serverconfig";
/// The JAAS section used when [`LOGIN_CONTEXT_PROPERTY`] is unset
/// (`ZooKeeperSaslServer.DEFAULT_LOGIN_CONTEXT_NAME`).
pub const DEFAULT_LOGIN_CONTEXT: &str = "Server";
/// The system property naming the JAAS file (`Environment.JAAS_CONF_KEY`). Java accepts
/// `-Djava.security.auth.login.config==/path` (two `=`: "only this file"); the caller
/// strips the extra `=`.
pub const JAAS_FILE_PROPERTY: &str = "java.security.auth.login.config";
/// Overrides the password of the JAAS user `super` (`SaslServerCallbackHandler`).
pub const SUPER_PASSWORD_PROPERTY: &str = "zookeeper.SASLAuthenticationProvider.superPassword";
/// `zookeeper.superUser` and `zookeeper.superUser.<anything>` name SASL ids that also get
/// the `super` Id (`ZooKeeperServer.isSaslSuperUser`).
pub const SUPER_USER_PROPERTY: &str = "zookeeper.superUser";
/// "true" drops the `/host` part of a principal-shaped SASL id
/// (`SaslServerCallbackHandler.SYSPROP_REMOVE_HOST`).
pub const REMOVE_HOST_PROPERTY: &str = "zookeeper.kerberos.removeHostFromPrincipal";
/// "true" drops the `@realm` part of a principal-shaped SASL id
/// (`SaslServerCallbackHandler.SYSPROP_REMOVE_REALM`).
pub const REMOVE_REALM_PROPERTY: &str = "zookeeper.kerberos.removeRealmFromPrincipal";
/// An ACL `sasl:<this value>` lets every SASL-authenticated session through
/// (`SASLAuthenticationProvider.matches`).
pub const LET_ANY_SASL_USER_PROPERTY: &str = "zookeeper.letAnySaslUserDoX";

/// The DIGEST-MD5 user database: user name to password, as `SaslServerCallbackHandler`
/// holds it. `Debug` shows the names only, so logging it never leaks a password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DigestUsers {
    users: HashMap<String, String>,
}

impl DigestUsers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a user; a later definition wins, as in ZooKeeper's map.
    pub fn insert(&mut self, name: impl Into<String>, password: impl Into<String>) {
        self.users.insert(name.into(), password.into());
    }

    pub fn password(&self, name: &str) -> Option<&str> {
        self.users.get(name).map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.users.contains_key(name)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The user names, sorted (for logs and tests).
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.users.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Applies [`SUPER_PASSWORD_PROPERTY`]: replaces the password of `super`, but only if
    /// the JAAS section defines `user_super` (ZooKeeper's name callback rejects users
    /// missing from the file before the password callback looks at the property).
    /// Returns whether it applied.
    pub fn set_super_password(&mut self, password: impl Into<String>) -> bool {
        match self.users.get_mut("super") {
            Some(slot) => {
                *slot = password.into();
                true
            }
            None => false,
        }
    }
}

impl<N: Into<String>, P: Into<String>> FromIterator<(N, P)> for DigestUsers {
    fn from_iter<I: IntoIterator<Item = (N, P)>>(iter: I) -> Self {
        let mut users = Self::new();
        for (name, password) in iter {
            users.insert(name, password);
        }
        users
    }
}

impl fmt::Debug for DigestUsers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestUsers")
            .field("names", &self.names())
            .finish_non_exhaustive()
    }
}

/// Whether a session whose SASL id is `id` also gets the Id `super:` —
/// `ZooKeeperServer.isSaslSuperUser`: a non-empty id equal to the value of
/// `zookeeper.superUser` or of any `zookeeper.superUser.<suffix>` property. The caller
/// passes those values.
pub fn is_super_user<S: AsRef<str>>(id: &str, super_users: &[S]) -> bool {
    !id.is_empty() && super_users.iter().any(|s| s.as_ref() == id)
}

/// The values of the super-user properties among `(name, value)` system properties:
/// `zookeeper.superUser` itself and `zookeeper.superUser.<suffix>` (a dot must follow
/// the prefix, as `isSaslSuperUser` checks).
pub fn super_users<'a, I>(properties: I) -> Vec<String>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    properties
        .into_iter()
        .filter(|(name, _)| {
            name.strip_prefix(SUPER_USER_PROPERTY)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
        .map(|(_, value)| value.to_owned())
        .collect()
}

/// `SASLAuthenticationProvider.matches`: whether the session Id `sasl:<id>` satisfies the
/// ACL `sasl:<acl_expr>`. The id `super` matches every sasl ACL (so a JAAS user named
/// `super` can pass any sasl ACL even without `zookeeper.superUser`), and an ACL equal to
/// [`LET_ANY_SASL_USER_PROPERTY`]'s value matches every id.
pub fn sasl_acl_matches(id: &str, acl_expr: &str, let_any_sasl_user: Option<&str>) -> bool {
    id == "super" || id == acl_expr || let_any_sasl_user == Some(acl_expr)
}

/// `SASLAuthenticationProvider.isValid`: an ACL id of scheme `sasl` is valid unless it
/// contains `@` without being shaped like a Kerberos principal (`name[/host]@realm`).
pub fn is_valid_sasl_id(id: &str) -> bool {
    digest_md5::kerberos_name(id).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn super_user_rules() {
        let props = [
            ("zookeeper.superUser", "admin"),
            ("zookeeper.superUser.2", "ops"),
            ("zookeeper.superUserX", "nope"),
            ("zookeeper.other", "x"),
        ];
        let supers = super_users(props.iter().copied());
        assert_eq!(supers, vec!["admin".to_owned(), "ops".to_owned()]);
        assert!(is_super_user("admin", &supers));
        assert!(is_super_user("ops", &supers));
        assert!(!is_super_user("nope", &supers));
        assert!(!is_super_user("", &[""]));
    }

    #[test]
    fn acl_matching() {
        assert!(sasl_acl_matches("alice", "alice", None));
        assert!(!sasl_acl_matches("alice", "bob", None));
        assert!(sasl_acl_matches("super", "bob", None));
        assert!(sasl_acl_matches("alice", "anyone", Some("anyone")));
        assert!(!sasl_acl_matches("alice", "bob", Some("anyone")));
    }

    #[test]
    fn valid_ids() {
        assert!(is_valid_sasl_id("alice"));
        assert!(is_valid_sasl_id("alice/host"));
        assert!(is_valid_sasl_id("alice@EXAMPLE.COM"));
        assert!(is_valid_sasl_id("zk/host.example.com@EXAMPLE.COM"));
        assert!(!is_valid_sasl_id("a@b@c"));
        assert!(!is_valid_sasl_id("a/b/c@R"));
        assert!(!is_valid_sasl_id("a@R/x"));
    }

    #[test]
    fn users_debug_hides_passwords_and_super_password() {
        let mut users: DigestUsers = [("super", "s3cret"), ("bob", "pw")].into_iter().collect();
        let shown = format!("{users:?}");
        assert!(shown.contains("bob") && !shown.contains("s3cret"));
        assert!(users.set_super_password("other"));
        assert_eq!(users.password("super"), Some("other"));
        let mut no_super: DigestUsers = [("bob", "pw")].into_iter().collect();
        assert!(!no_super.set_super_password("x"));
        assert!(!no_super.contains("super"));
    }
}
