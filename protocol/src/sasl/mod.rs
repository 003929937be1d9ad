//! The client side of SASL DIGEST-MD5 (RFC 2831; the `sasl` opcode's tokens), as
//! ZooKeeper's Java client (Java's
//! `DigestMD5Client`, protocol `zookeeper`, server name `zk-sasl-md5`) and kazoo
//! (pure-sasl) do it: initial authentication only, qop `auth` (no security layer), no
//! authorization id (the server derives the `sasl` id from the user name).
//!
//! 1. the client sends an empty token; the server answers the digest-challenge;
//! 2. the client answers the digest-response; the server answers `rspauth=...`, which
//!    the client checks (the server proves it knows the password too).

pub mod rfc2831;

use md5::{Digest as _, Md5};

use rfc2831::{constant_time_eq, hex, hex32, latin1, parse_pairs};

/// The digest-uri: `protocol/serverName` as ZooKeeper's Java client sets them.
const DIGEST_URI: &str = "zookeeper/zk-sasl-md5";
/// RFC 2831 §2.1.1: a digest-challenge is at most 2048 bytes.
const MAX_CHALLENGE_LEN: usize = 2048;
/// The only nonce count of an initial authentication.
const NONCE_COUNT: &str = "00000001";
/// Random bytes in the cnonce (hex-encoded: 40 characters, as long as Java's).
const CNONCE_RAW_LEN: usize = 20;

/// A user name and password for DIGEST-MD5 (the JAAS `Client` section's `username` and
/// `password` of ZooKeeper's Java client). `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslCredentials {
    user: String,
    password: String,
}

impl SaslCredentials {
    pub fn new(user: &str, password: &str) -> SaslCredentials {
        SaslCredentials {
            user: user.to_owned(),
            password: password.to_owned(),
        }
    }

    pub fn user(&self) -> &str {
        &self.user
    }
}

impl std::fmt::Debug for SaslCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslCredentials")
            .field("mechanism", &"DIGEST-MD5")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Why an exchange failed (for the log; the caller sees AuthFailed).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SaslError {
    #[error("the server answered without a SASL token (no SASL configured there?)")]
    NoToken,
    #[error("digest-challenge of {0} bytes is longer than the 2048 allowed")]
    ChallengeTooLong(usize),
    #[error("malformed digest-challenge: {0}")]
    Malformed(String),
    #[error("the server offers qop {0:?}, not \"auth\"")]
    NoQopAuth(String),
    #[error("the server's algorithm is {0:?}, not \"md5-sess\"")]
    Algorithm(String),
    #[error(
        "the user name or password cannot be encoded in ISO-8859-1 (and the server did not offer UTF-8)"
    )]
    Encoding,
    #[error("cannot get random bytes for the cnonce: {0}")]
    Random(String),
    #[error("the server's rspauth is wrong: it does not know the password")]
    BadRspauth,
    #[error("unexpected SASL token after the exchange completed")]
    AlreadyDone,
}

enum State {
    /// The empty token went out; the challenge comes next.
    Start,
    /// The response went out; the server's rspauth comes next.
    Responded {
        rspauth: [u8; 32],
    },
    Done,
}

/// One DIGEST-MD5 exchange.
pub struct DigestMd5Client<'a> {
    credentials: &'a SaslCredentials,
    state: State,
}

impl<'a> DigestMd5Client<'a> {
    pub fn new(credentials: &'a SaslCredentials) -> Self {
        DigestMd5Client {
            credentials,
            state: State::Start,
        }
    }

    /// Takes the server's token (the reply to the token sent last) and returns the
    /// next one to send, or `None` once authenticated.
    pub fn step(&mut self, token: Option<&[u8]>) -> Result<Option<Vec<u8>>, SaslError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Start => {
                let challenge = token.ok_or(SaslError::NoToken)?;
                let cnonce = new_cnonce()?;
                let (response, rspauth) = respond(self.credentials, challenge, &cnonce)?;
                self.state = State::Responded { rspauth };
                Ok(Some(response))
            }
            State::Responded { rspauth } => {
                // ZooKeeper with allowSaslFailedClients answers a failed response with
                // success and no token: not authenticated.
                let token = token.ok_or(SaslError::NoToken)?;
                let pairs = parse_pairs(token).map_err(SaslError::Malformed)?;
                let got = pairs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(b"rspauth"))
                    .map(|(_, v)| v.as_slice());
                match got {
                    Some(got) if constant_time_eq(got, &rspauth) => Ok(None),
                    _ => Err(SaslError::BadRspauth),
                }
            }
            State::Done => Err(SaslError::AlreadyDone),
        }
    }
}

/// What the client reads from a digest-challenge.
#[derive(Debug, Default)]
struct Challenge {
    realm: Option<Vec<u8>>,
    nonce: Option<Vec<u8>>,
    qop: Option<Vec<u8>>,
    charset: Option<Vec<u8>>,
    algorithm: Option<Vec<u8>>,
}

impl Challenge {
    fn parse(buf: &[u8]) -> Result<Challenge, SaslError> {
        if buf.len() > MAX_CHALLENGE_LEN {
            return Err(SaslError::ChallengeTooLong(buf.len()));
        }
        let mut c = Challenge::default();
        for (key, value) in parse_pairs(buf).map_err(SaslError::Malformed)? {
            let slot = match key.to_ascii_lowercase().as_slice() {
                // Several realms may be offered: use the first, as Java's default choice.
                b"realm" => {
                    c.realm.get_or_insert(value);
                    continue;
                }
                b"nonce" => &mut c.nonce,
                b"qop" => &mut c.qop,
                b"charset" => &mut c.charset,
                b"algorithm" => &mut c.algorithm,
                _ => continue,
            };
            if slot.is_some() {
                return Err(SaslError::Malformed(format!(
                    "more than one {} directive",
                    String::from_utf8_lossy(key)
                )));
            }
            *slot = Some(value);
        }
        Ok(c)
    }
}

/// The digest-response to `challenge` and the rspauth the server must send back.
fn respond(
    credentials: &SaslCredentials,
    challenge: &[u8],
    cnonce: &[u8],
) -> Result<(Vec<u8>, [u8; 32]), SaslError> {
    let c = Challenge::parse(challenge)?;
    let nonce = c
        .nonce
        .ok_or_else(|| SaslError::Malformed("no nonce".into()))?;
    match c.algorithm.as_deref() {
        Some(b"md5-sess") => {}
        Some(other) => {
            return Err(SaslError::Algorithm(
                String::from_utf8_lossy(other).into_owned(),
            ));
        }
        None => return Err(SaslError::Malformed("no algorithm".into())),
    }
    if let Some(qop) = &c.qop {
        // A list such as "auth,auth-int"; absent means "auth".
        let offered = qop
            .split(|&b| b == b',')
            .any(|q| q.trim_ascii().eq_ignore_ascii_case(b"auth"));
        if !offered {
            return Err(SaslError::NoQopAuth(
                String::from_utf8_lossy(qop).into_owned(),
            ));
        }
    }
    let utf8 = match c.charset.as_deref() {
        None => false,
        Some(charset) if charset.eq_ignore_ascii_case(b"utf-8") => true,
        Some(other) => {
            return Err(SaslError::Malformed(format!(
                "charset {:?}",
                String::from_utf8_lossy(other)
            )));
        }
    };
    let realm = c.realm.unwrap_or_default();
    // What goes on the wire: UTF-8 when the server said it reads UTF-8, else ISO-8859-1.
    let wire = |s: &str| -> Result<Vec<u8>, SaslError> {
        if utf8 {
            Ok(s.as_bytes().to_vec())
        } else {
            latin1(s).ok_or(SaslError::Encoding)
        }
    };
    let user = wire(&credentials.user)?;
    let password = wire(&credentials.password)?;
    // The hash takes ISO-8859-1 whenever every character fits (RFC 2831 §2.1.2.1; Java's
    // stringToByte_8859_1), whatever went on the wire.
    let user_hashed = latin1(&credentials.user).unwrap_or_else(|| user.clone());
    let password_hashed = latin1(&credentials.password).unwrap_or(password);
    let realm_hashed = std::str::from_utf8(&realm)
        .ok()
        .and_then(latin1)
        .unwrap_or_else(|| realm.clone());

    let inputs = Inputs {
        user: &user_hashed,
        realm: &realm_hashed,
        password: &password_hashed,
        nonce: &nonce,
        cnonce,
        digest_uri: DIGEST_URI.as_bytes(),
    };
    let response = inputs.response_value("AUTHENTICATE");
    let rspauth = inputs.response_value("");

    let mut out = Vec::with_capacity(256);
    if utf8 {
        out.extend_from_slice(b"charset=utf-8,");
    }
    out.extend_from_slice(b"username=");
    quoted(&mut out, &user);
    if !realm.is_empty() {
        out.extend_from_slice(b",realm=");
        quoted(&mut out, &realm);
    }
    out.extend_from_slice(b",nonce=");
    quoted(&mut out, &nonce);
    out.extend_from_slice(b",nc=");
    out.extend_from_slice(NONCE_COUNT.as_bytes());
    out.extend_from_slice(b",cnonce=");
    quoted(&mut out, cnonce);
    out.extend_from_slice(b",digest-uri=");
    quoted(&mut out, DIGEST_URI.as_bytes());
    out.extend_from_slice(b",response=");
    out.extend_from_slice(&response);
    out.extend_from_slice(b",qop=auth");
    Ok((out, rspauth))
}

/// RFC 2831's inputs for qop auth without authzid.
struct Inputs<'a> {
    user: &'a [u8],
    realm: &'a [u8],
    password: &'a [u8],
    nonce: &'a [u8],
    cnonce: &'a [u8],
    digest_uri: &'a [u8],
}

impl Inputs<'_> {
    /// HEX(KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2)))), `method` "AUTHENTICATE" for
    /// the client's response and "" for the server's rspauth.
    fn response_value(&self, method: &str) -> [u8; 32] {
        let mut secret = Md5::new();
        secret.update(self.user);
        secret.update(b":");
        secret.update(self.realm);
        secret.update(b":");
        secret.update(self.password);
        let mut a1 = Md5::new();
        a1.update(secret.finalize());
        a1.update(b":");
        a1.update(self.nonce);
        a1.update(b":");
        a1.update(self.cnonce);
        let hex_a1 = hex32(&a1.finalize());

        let mut a2 = Md5::new();
        a2.update(method.as_bytes());
        a2.update(b":");
        a2.update(self.digest_uri);
        let hex_a2 = hex32(&a2.finalize());

        let mut kd = Md5::new();
        kd.update(hex_a1);
        kd.update(b":");
        kd.update(self.nonce);
        kd.update(b":");
        kd.update(NONCE_COUNT.as_bytes());
        kd.update(b":");
        kd.update(self.cnonce);
        kd.update(b":auth:");
        kd.update(hex_a2);
        hex32(&kd.finalize())
    }
}

fn new_cnonce() -> Result<Vec<u8>, SaslError> {
    let mut raw = [0u8; CNONCE_RAW_LEN];
    getrandom::fill(&mut raw).map_err(|e| SaslError::Random(e.to_string()))?;
    Ok(hex(&raw))
}

/// `"value"`, with `"` and `\` escaped (RFC 2831 quoted-pair).
fn quoted(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    for &b in value {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2831 §4's example, with its realm, nonce, cnonce and digest-uri.
    #[test]
    fn rfc_2831_example() {
        let inputs = Inputs {
            user: b"chris",
            realm: b"elwood.innosoft.com",
            password: b"secret",
            nonce: b"OA6MG9tEQGm2hh",
            cnonce: b"OA6MHXh6VqTrRk",
            digest_uri: b"imap/elwood.innosoft.com",
        };
        assert_eq!(
            &inputs.response_value("AUTHENTICATE"),
            b"d388dad90d4bbd760a152321f2143af7"
        );
        assert_eq!(
            &inputs.response_value(""),
            b"ea40f60335c427b5527b84dbabcdfffd"
        );
    }

    fn directives(token: &[u8]) -> Vec<(String, String)> {
        parse_pairs(token)
            .expect("parses")
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect()
    }

    /// The challenge ZooKeeper's server sends, answered as Java's client does, and the
    /// server's rspauth checked.
    #[test]
    fn zookeeper_exchange() {
        let credentials = SaslCredentials::new("bob", "bobpw");
        let challenge =
            b"realm=\"zk-sasl-md5\",nonce=\"n0nce+/=\",charset=utf-8,algorithm=md5-sess";
        let (response, rspauth) = respond(&credentials, challenge, b"cn").expect("response");
        let d = directives(&response);
        let get = |k: &str| d.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("charset"), Some("utf-8"));
        assert_eq!(get("username"), Some("bob"));
        assert_eq!(get("realm"), Some("zk-sasl-md5"));
        assert_eq!(get("nonce"), Some("n0nce+/="));
        assert_eq!(get("nc"), Some("00000001"));
        assert_eq!(get("cnonce"), Some("cn"));
        assert_eq!(get("digest-uri"), Some("zookeeper/zk-sasl-md5"));
        assert_eq!(get("qop"), Some("auth"));
        let expected = Inputs {
            user: b"bob",
            realm: b"zk-sasl-md5",
            password: b"bobpw",
            nonce: b"n0nce+/=",
            cnonce: b"cn",
            digest_uri: b"zookeeper/zk-sasl-md5",
        };
        assert_eq!(
            get("response").map(str::as_bytes),
            Some(&expected.response_value("AUTHENTICATE")[..])
        );
        assert_eq!(rspauth, expected.response_value(""));

        // The whole exchange, with a random cnonce: the server's side computed here.
        let mut exchange = DigestMd5Client::new(&credentials);
        let response = exchange
            .step(Some(challenge))
            .expect("step 1")
            .expect("a response");
        assert!(response.starts_with(b"charset=utf-8,username=\"bob\""));
        let d = directives(&response);
        let cnonce = d
            .iter()
            .find(|(k, _)| k == "cnonce")
            .expect("cnonce")
            .1
            .clone();
        assert_eq!(cnonce.len(), 40);
        let server = Inputs {
            cnonce: cnonce.as_bytes(),
            ..expected
        };
        let mut token = b"rspauth=".to_vec();
        token.extend_from_slice(&server.response_value(""));
        assert_eq!(exchange.step(Some(&token)), Ok(None));
        assert_eq!(exchange.step(Some(b"x")), Err(SaslError::AlreadyDone));

        let mut exchange = DigestMd5Client::new(&credentials);
        assert!(exchange.step(Some(challenge)).is_ok());
        assert_eq!(
            exchange.step(Some(b"rspauth=0123456789abcdef0123456789abcdef")),
            Err(SaslError::BadRspauth)
        );
        assert_eq!(exchange.step(Some(b"x")), Err(SaslError::AlreadyDone));
    }

    #[test]
    fn refusals() {
        let credentials = SaslCredentials::new("bob", "bobpw");
        let mut exchange = DigestMd5Client::new(&credentials);
        assert_eq!(exchange.step(None), Err(SaslError::NoToken));
        let refuse = |challenge: &[u8]| respond(&credentials, challenge, b"c").map(drop);
        assert!(matches!(
            refuse(b"realm=\"r\",algorithm=md5-sess"),
            Err(SaslError::Malformed(_))
        ));
        assert!(matches!(
            refuse(b"nonce=\"n\",algorithm=md5"),
            Err(SaslError::Algorithm(_))
        ));
        assert!(matches!(
            refuse(b"nonce=\"n\",qop=\"auth-conf\",algorithm=md5-sess"),
            Err(SaslError::NoQopAuth(_))
        ));
        assert!(matches!(
            refuse(b"nonce=\"n\",nonce=\"m\",algorithm=md5-sess"),
            Err(SaslError::Malformed(_))
        ));
        assert!(matches!(
            refuse(b"nonce=\"n,algorithm=md5-sess"),
            Err(SaslError::Malformed(_))
        ));
        assert!(matches!(
            refuse(&[b'x'; 3000]),
            Err(SaslError::ChallengeTooLong(3000))
        ));
        assert!(refuse(b"nonce=\"n\",qop=\"auth-int, auth\",algorithm=md5-sess").is_ok());
        let non_latin1 = SaslCredentials::new("bob", "pässwörd€");
        assert_eq!(
            respond(&non_latin1, b"nonce=\"n\",algorithm=md5-sess", b"c").map(drop),
            Err(SaslError::Encoding)
        );
        assert!(
            respond(
                &non_latin1,
                b"nonce=\"n\",charset=utf-8,algorithm=md5-sess",
                b"c"
            )
            .is_ok()
        );
    }

    #[test]
    fn quoting_and_debug() {
        let mut out = Vec::new();
        quoted(&mut out, b"a\"b\\c");
        assert_eq!(out, b"\"a\\\"b\\\\c\"");
        let pairs = parse_pairs(b"u=\"a\\\"b\\\\c\"").expect("parses");
        assert_eq!(pairs[0].1, b"a\"b\\c");
        let shown = format!("{:?}", SaslCredentials::new("bob", "s3cret"));
        assert!(shown.contains("bob") && !shown.contains("s3cret"));
        assert_eq!(new_cnonce().expect("random").len(), 40);
    }
}
