//! The server side of SASL DIGEST-MD5 (RFC 2831), initial authentication only, qop `auth`
//! only — what ZooKeeper's server does with Java's `DigestMD5Server`, created by
//! `SecurityUtils.createSaslServer` with protocol `zookeeper`, server name `zk-sasl-md5`
//! and no properties.
//!
//! The exchange (ZooKeeper `sasl` requests):
//! 1. the client sends an empty token; we answer the digest-challenge;
//! 2. the client sends its digest-response; we check it and answer `rspauth=...`, which
//!    completes the exchange.
//!
//! Where Java's behaviour is observable by a client (challenge text, which directives are
//! required, how user names and passwords are hashed, the rspauth value) we follow it;
//! where Java is lenient on malformed input (e.g. a directive without `=`) we refuse.

use ferrokeeper_protocol::sasl::rfc2831;
use std::sync::Arc;

use base64::Engine as _;
use md5::{Digest as _, Md5};

use super::DigestUsers;

/// The SASL "server name" ZooKeeper uses for DIGEST-MD5; Java's default realm.
pub const SERVER_NAME: &str = "zk-sasl-md5";
/// The SASL protocol (service) name ZooKeeper uses.
pub const PROTOCOL: &str = "zookeeper";
/// The digest-uri the client must send: `protocol/serverName`.
pub const DIGEST_URI: &str = "zookeeper/zk-sasl-md5";
/// The longest token accepted from a client (Java's `MAX_RESPONSE_LENGTH`).
pub const MAX_TOKEN_LEN: usize = 4096;

/// Random bytes in the nonce; Java uses 30, base64-encoded to 40 characters.
const NONCE_RAW_LEN: usize = 30;
/// The only nonce count of an initial authentication.
const NONCE_COUNT: &str = "00000001";
/// The only qop we offer: authentication without a security layer.
const QOP_AUTH: &str = "auth";

/// Why an exchange failed. Every failure ends the exchange (ZooKeeper answers AUTHFAILED
/// and closes the session); the messages are for the server log.
#[derive(Debug, thiserror::Error)]
pub enum SaslError {
    #[error("DIGEST-MD5: token of {len} bytes is longer than the {max} allowed")]
    TokenTooLong { len: usize, max: usize },
    #[error("DIGEST-MD5: malformed digest-response: {0}")]
    Malformed(String),
    #[error("DIGEST-MD5: user {0:?} is not in the JAAS DIGEST-MD5 users")]
    UnknownUser(String),
    #[error("DIGEST-MD5: realm {found:?} is not the server's realm {SERVER_NAME:?}")]
    BadRealm { found: String },
    #[error("DIGEST-MD5: the nonce is not the one this server sent")]
    NonceMismatch,
    #[error("DIGEST-MD5: nonce count {0:?} is not 00000001 (only initial authentication)")]
    BadNonceCount(String),
    #[error("DIGEST-MD5: qop {0:?} is not supported (only \"auth\")")]
    UnsupportedQop(String),
    #[error("DIGEST-MD5: digest-uri {found:?} does not match {DIGEST_URI:?}")]
    BadDigestUri { found: Option<String> },
    #[error("DIGEST-MD5: wrong response for user {0:?} (wrong password?)")]
    WrongResponse(String),
    #[error("DIGEST-MD5: user name {0:?} contains '@' but is not a Kerberos principal")]
    BadPrincipal(String),
    #[error("DIGEST-MD5: the exchange is already complete or has failed")]
    InvalidState,
    #[error("DIGEST-MD5: cannot get random bytes for the nonce: {0}")]
    Random(String),
}

/// What to send back after a client token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this token and wait for the client's next one.
    Challenge(Vec<u8>),
    /// Send this token (`rspauth=...`) with a successful reply; the client is
    /// authenticated as `sasl:<authorization_id>`.
    Done {
        token: Vec<u8>,
        /// The id ZooKeeper gives the session (see [`sasl_id`]).
        authorization_id: String,
        /// The user name the client proved it knows the password of (for logs).
        authentication_id: String,
    },
}

enum State {
    /// Waiting for the client's first (empty) token.
    Start,
    /// Challenge sent with this nonce; waiting for the digest-response.
    Challenged { nonce: Vec<u8> },
    /// Completed or failed: every further token is refused, as Java's "illegal state".
    Finished,
}

/// One DIGEST-MD5 exchange (one per connection).
pub struct DigestMd5Server {
    users: Arc<DigestUsers>,
    remove_host: bool,
    remove_realm: bool,
    state: State,
}

impl DigestMd5Server {
    /// A new exchange. The nonce is drawn from the OS CSPRNG at the first step (so that a
    /// failure to get randomness is an error of the exchange, not a panic).
    pub fn new(users: Arc<DigestUsers>) -> Self {
        Self {
            users,
            remove_host: false,
            remove_realm: false,
            state: State::Start,
        }
    }

    /// Sets `zookeeper.kerberos.removeHostFromPrincipal` / `removeRealmFromPrincipal`
    /// (both false by default, as in ZooKeeper); see [`sasl_id`].
    pub fn with_principal_rules(mut self, remove_host: bool, remove_realm: bool) -> Self {
        self.remove_host = remove_host;
        self.remove_realm = remove_realm;
        self
    }

    /// Whether the exchange has ended (successfully or not).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished)
    }

    /// Feeds the client's token and returns the next server token.
    pub fn step(&mut self, token: &[u8]) -> Result<Step, SaslError> {
        if token.len() > MAX_TOKEN_LEN {
            self.state = State::Finished;
            return Err(SaslError::TokenTooLong {
                len: token.len(),
                max: MAX_TOKEN_LEN,
            });
        }
        // Whatever happens below, this step consumes the state: a failed response cannot
        // be retried against the same nonce (Java sets its step to an invalid one).
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Start => {
                if !token.is_empty() {
                    // Java ignores an initial response: RFC 2831 §2.2 says a server that
                    // does not do subsequent authentication answers a digest-challenge.
                    tracing::debug!("DIGEST-MD5: ignoring the client's initial response");
                }
                let nonce = new_nonce()?;
                let challenge = challenge(&nonce);
                self.state = State::Challenged { nonce };
                Ok(Step::Challenge(challenge))
            }
            State::Challenged { nonce } => self.check_response(&nonce, token),
            State::Finished => Err(SaslError::InvalidState),
        }
    }

    /// Java's `validateClientResponse`, in its order.
    fn check_response(&self, nonce: &[u8], token: &[u8]) -> Result<Step, SaslError> {
        let d = Directives::parse(token)?;

        // The server announced charset=utf-8; a client may echo exactly that.
        if let Some(charset) = &d.charset
            && charset.as_slice() != b"utf-8"
        {
            return Err(malformed(format!(
                "charset {:?} is not \"utf-8\"",
                String::from_utf8_lossy(charset)
            )));
        }
        if let Some(maxbuf) = &d.maxbuf {
            // Unused with qop auth, but Java refuses one that is not a number.
            let ok = std::str::from_utf8(maxbuf).is_ok_and(|s| s.parse::<i32>().is_ok());
            if !ok {
                return Err(malformed(format!(
                    "maxbuf {:?} is not a number",
                    String::from_utf8_lossy(maxbuf)
                )));
            }
        }
        let username = utf8(d.username.as_deref(), "username")?;
        // A response without realm means the empty realm, which is not ours.
        let realm = match &d.realm {
            Some(r) => text(r, "realm")?,
            None => String::new(),
        };
        if realm != SERVER_NAME {
            return Err(SaslError::BadRealm { found: realm });
        }
        let client_nonce = required(d.nonce.as_deref(), "nonce")?;
        if client_nonce != nonce {
            return Err(SaslError::NonceMismatch);
        }
        let cnonce = required(d.cnonce.as_deref(), "cnonce")?;
        // RFC 2831 calls it "nc"; Java's server only knows "nonce-count" and so never
        // checks what pure-sasl and Java's client send. Checking both changes nothing for
        // a correct client: the response is computed with 00000001 either way.
        for nc in [&d.nc, &d.nonce_count].into_iter().flatten() {
            if !is_nonce_count_one(nc) {
                return Err(SaslError::BadNonceCount(
                    String::from_utf8_lossy(nc).into_owned(),
                ));
            }
        }
        match d.qop.as_deref() {
            None | Some(b"auth") => {}
            Some(other) => {
                return Err(SaslError::UnsupportedQop(
                    String::from_utf8_lossy(other).into_owned(),
                ));
            }
        }
        // Java compares ignoring case and then hashes the client's spelling.
        let digest_uri = match &d.digest_uri {
            Some(uri) if uri.eq_ignore_ascii_case(DIGEST_URI.as_bytes()) => uri.as_slice(),
            other => {
                return Err(SaslError::BadDigestUri {
                    found: other
                        .as_ref()
                        .map(|u| String::from_utf8_lossy(u).into_owned()),
                });
            }
        };
        let response = required(d.response.as_deref(), "response")?;

        let Some(password) = self.users.password(&username) else {
            return Err(SaslError::UnknownUser(username));
        };
        let inputs = ResponseInputs {
            digest_uri,
            qop: QOP_AUTH,
            username: &username,
            realm: &realm,
            password,
            nonce,
            cnonce,
            authzid: d.authzid.as_deref(),
        };
        let expected = inputs.response_value("AUTHENTICATE");
        if !rfc2831::constant_time_eq(response, &expected) {
            return Err(SaslError::WrongResponse(username));
        }
        // ZooKeeper's AuthorizeCallback authorizes every authenticated user and derives the
        // id from the authentication id; the client's authzid only enters the hash.
        let authorization_id = sasl_id(&username, self.remove_host, self.remove_realm)?;
        let mut token = b"rspauth=".to_vec();
        token.extend_from_slice(&inputs.response_value(""));
        Ok(Step::Done {
            token,
            authorization_id,
            authentication_id: username,
        })
    }
}

/// The id ZooKeeper gives a session authenticated as `authentication_id`
/// (`SaslServerCallbackHandler.handleAuthorizeCallback`, with `KerberosName`):
///
/// - a name without `@` is used as is (`alice`, even `alice/host`);
/// - a name `service[/host]@realm` whose realm is Java's default realm — the empty string
///   when no Kerberos configuration is present, the only case ferrokeeper supports — is
///   shortened to `service`, then `/host` is appended unless `remove_host`, and `@realm`
///   unless `remove_realm`;
/// - a principal with another realm matches no `auth_to_local` rule: ZooKeeper logs the
///   error and falls back to the client's authorization id (its authzid, else the user
///   name). We use the user name, never a client-chosen authzid: the same result for
///   clients that send no authzid (pure-sasl, Java's client), and no way to claim
///   another identity;
/// - a name with `@` that is not a principal (`a@b@c`) makes Java's callback throw, which
///   fails the authentication: [`SaslError::BadPrincipal`].
///
/// JAAS option keys cannot contain `@` or `/` unless quoted, so in practice DIGEST ids are
/// the plain user names.
pub fn sasl_id(
    authentication_id: &str,
    remove_host: bool,
    remove_realm: bool,
) -> Result<String, SaslError> {
    match kerberos_name(authentication_id) {
        Err(()) => Err(SaslError::BadPrincipal(authentication_id.to_owned())),
        Ok(None) => Ok(authentication_id.to_owned()),
        Ok(Some(name)) if name.realm.is_empty() => {
            let mut id = name.service.to_owned();
            if let Some(host) = name.host
                && !remove_host
            {
                id.push('/');
                id.push_str(host);
            }
            if !remove_realm {
                id.push('@');
                id.push_str(name.realm);
            }
            Ok(id)
        }
        Ok(Some(_)) => Ok(authentication_id.to_owned()),
    }
}

/// The parts of a Kerberos principal, `KerberosName`'s `([^/@]*)(/([^/@]*))?@([^/@]*)`.
pub(crate) struct KerberosName<'a> {
    pub(crate) service: &'a str,
    pub(crate) host: Option<&'a str>,
    pub(crate) realm: &'a str,
}

/// `Ok(Some(..))` for a principal, `Ok(None)` for a simple name (no `@`), `Err` for a name
/// with `@` that is not a principal (Java's `IllegalArgumentException`).
pub(crate) fn kerberos_name(name: &str) -> Result<Option<KerberosName<'_>>, ()> {
    let Some((left, realm)) = name.split_once('@') else {
        return Ok(None);
    };
    if realm.contains(['@', '/']) {
        return Err(());
    }
    let (service, host) = match left.split_once('/') {
        Some((service, host)) => (service, Some(host)),
        None => (left, None),
    };
    if host.is_some_and(|h| h.contains('/')) {
        return Err(());
    }
    Ok(Some(KerberosName {
        service,
        host,
        realm,
    }))
}

fn malformed(why: impl Into<String>) -> SaslError {
    SaslError::Malformed(why.into())
}

fn required<'a>(value: Option<&'a [u8]>, name: &str) -> Result<&'a [u8], SaslError> {
    value.ok_or_else(|| malformed(format!("missing {name}")))
}

fn text(value: &[u8], name: &str) -> Result<String, SaslError> {
    // The server announced charset=utf-8, so Java decodes every value as UTF-8; bytes that
    // are not UTF-8 could never match a user, realm or uri, so refuse them outright.
    String::from_utf8(value.to_vec()).map_err(|_| malformed(format!("{name} is not UTF-8")))
}

fn utf8(value: Option<&[u8]>, name: &str) -> Result<String, SaslError> {
    text(required(value, name)?, name)
}

fn is_nonce_count_one(nc: &[u8]) -> bool {
    // 8LHEX in the RFC; Java would parse any hex number. Accept 1 to 8 hex digits.
    !nc.is_empty()
        && nc.len() <= 8
        && nc.iter().all(u8::is_ascii_hexdigit)
        && std::str::from_utf8(nc)
            .ok()
            .and_then(|s| u32::from_str_radix(s, 16).ok())
            == Some(1)
}

fn new_nonce() -> Result<Vec<u8>, SaslError> {
    let mut raw = [0u8; NONCE_RAW_LEN];
    getrandom::fill(&mut raw).map_err(|e| SaslError::Random(e.to_string()))?;
    // Standard base64 like Java; 30 bytes need no padding, and no character of the
    // alphabet needs escaping in a quoted-string.
    Ok(base64::engine::general_purpose::STANDARD
        .encode(raw)
        .into_bytes())
}

/// Java's `generateChallenge` with ZooKeeper's settings (no properties): one realm, the
/// nonce, no qop directive (RFC 2831: absent means "auth"), no maxbuf (the default),
/// `charset=utf-8`, `algorithm=md5-sess` — in this order, as Java sends it.
fn challenge(nonce: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(100);
    out.extend_from_slice(b"realm=\"");
    out.extend_from_slice(SERVER_NAME.as_bytes());
    out.extend_from_slice(b"\",nonce=\"");
    out.extend_from_slice(nonce);
    out.extend_from_slice(b"\",charset=utf-8,algorithm=md5-sess");
    out
}

/// The inputs of RFC 2831's response-value (§2.1.2.1).
struct ResponseInputs<'a> {
    digest_uri: &'a [u8],
    qop: &'a str,
    username: &'a str,
    realm: &'a str,
    password: &'a str,
    nonce: &'a [u8],
    cnonce: &'a [u8],
    authzid: Option<&'a [u8]>,
}

impl ResponseInputs<'_> {
    /// The lowercase hex response-value; `method` is "AUTHENTICATE" for the client's
    /// response and "" for the server's rspauth. qop is "auth", so A2 has no
    /// `:00000000000000000000000000000000` suffix.
    fn response_value(&self, method: &str) -> [u8; 32] {
        let mut a2 = Md5::new();
        a2.update(method.as_bytes());
        a2.update(b":");
        a2.update(self.digest_uri);
        let hex_a2 = rfc2831::hex32(&a2.finalize());

        // H(user:realm:password), each in ISO-8859-1 when representable (RFC 2831 §2.1.2.1,
        // Java's stringToByte_8859_1); nonce, cnonce and authzid as sent.
        let mut secret = Md5::new();
        secret.update(latin1_or_utf8(self.username));
        secret.update(b":");
        secret.update(latin1_or_utf8(self.realm));
        secret.update(b":");
        secret.update(latin1_or_utf8(self.password));
        let mut a1 = Md5::new();
        a1.update(secret.finalize());
        a1.update(b":");
        a1.update(self.nonce);
        a1.update(b":");
        a1.update(self.cnonce);
        if let Some(authzid) = self.authzid {
            a1.update(b":");
            a1.update(authzid);
        }
        let hex_a1 = rfc2831::hex32(&a1.finalize());

        let mut kd = Md5::new();
        kd.update(hex_a1);
        kd.update(b":");
        kd.update(self.nonce);
        kd.update(b":");
        kd.update(NONCE_COUNT.as_bytes());
        kd.update(b":");
        kd.update(self.cnonce);
        kd.update(b":");
        kd.update(self.qop.as_bytes());
        kd.update(b":");
        kd.update(hex_a2);
        rfc2831::hex32(&kd.finalize())
    }
}

/// ISO-8859-1 bytes if every character is below U+0100, else UTF-8 (RFC 2831 §2.1.2.1).
fn latin1_or_utf8(s: &str) -> Vec<u8> {
    rfc2831::latin1(s).unwrap_or_else(|| s.as_bytes().to_vec())
}

/// The directives of a digest-response that the server reads. Unknown directives
/// (auth-param) are ignored; a known one given twice is an error, as in Java.
#[derive(Default)]
struct Directives {
    username: Option<Vec<u8>>,
    realm: Option<Vec<u8>>,
    nonce: Option<Vec<u8>>,
    cnonce: Option<Vec<u8>>,
    nc: Option<Vec<u8>>,
    nonce_count: Option<Vec<u8>>,
    qop: Option<Vec<u8>>,
    digest_uri: Option<Vec<u8>>,
    response: Option<Vec<u8>>,
    maxbuf: Option<Vec<u8>>,
    charset: Option<Vec<u8>>,
    cipher: Option<Vec<u8>>,
    authzid: Option<Vec<u8>>,
}

impl Directives {
    fn parse(buf: &[u8]) -> Result<Self, SaslError> {
        let mut d = Self::default();
        for (key, value) in rfc2831::parse_pairs(buf).map_err(malformed)? {
            let slot = match key.to_ascii_lowercase().as_slice() {
                b"username" => &mut d.username,
                b"realm" => &mut d.realm,
                b"nonce" => &mut d.nonce,
                b"cnonce" => &mut d.cnonce,
                b"nc" => &mut d.nc,
                b"nonce-count" => &mut d.nonce_count,
                b"qop" => &mut d.qop,
                b"digest-uri" => &mut d.digest_uri,
                b"response" => &mut d.response,
                b"maxbuf" => &mut d.maxbuf,
                b"charset" => &mut d.charset,
                b"cipher" => &mut d.cipher,
                b"authzid" => &mut d.authzid,
                _ => continue,
            };
            if slot.is_some() {
                return Err(malformed(format!(
                    "more than one {} directive",
                    String::from_utf8_lossy(key)
                )));
            }
            *slot = Some(value);
        }
        Ok(d)
    }
}

#[cfg(test)]
#[path = "tests/digest_md5.rs"]
mod tests;
