//! Tests of the DIGEST-MD5 server. Expected hex values were computed once, independently
//! of this code, with a short Python `hashlib` script implementing RFC 2831 §2.1.2.1
//! (H(user:realm:pass), A1, A2, KD) — noted at each value.

use std::collections::HashMap;

use md5::Digest as _;
use proptest::prelude::*;

use super::*;

/// A nonce of Java's shape (40 base64 characters), fixed so that expected values can be
/// computed outside this code.
const FIXED_NONCE: &[u8] = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZn";

/// kazoo's test users (kazoo 2.11 `kazoo/testing/harness.py`, ZOOKEEPER_JAAS_AUTH=digest).
fn kazoo_users() -> Arc<DigestUsers> {
    Arc::new(
        [("super", "super_secret"), ("jaasuser", "jaas_password")]
            .into_iter()
            .collect(),
    )
}

/// A server that has sent a challenge with `nonce`.
fn challenged(users: Arc<DigestUsers>, nonce: &[u8]) -> DigestMd5Server {
    let mut server = DigestMd5Server::new(users);
    server.state = State::Challenged {
        nonce: nonce.to_vec(),
    };
    server
}

fn done(step: Result<Step, SaslError>) -> (Vec<u8>, String) {
    match step {
        Ok(Step::Done {
            token,
            authorization_id,
            ..
        }) => (token, authorization_id),
        other => panic!("expected Done, got {other:?}"),
    }
}

/// pure-sasl 0.6.2's `DigestMD5Mechanism.parse_challenge`, ported as is (so that our
/// challenge is checked against the parser kazoo uses): white space is skipped in names
/// only, a value is quoted if it starts with `"`, and after a closing quote everything up
/// to the next comma is appended to the value.
fn pure_sasl_parse_challenge(challenge: &[u8]) -> HashMap<String, Vec<u8>> {
    let mut ret = HashMap::new();
    let (mut var, mut val) = (Vec::new(), Vec::new());
    let (mut in_var, mut in_quotes, mut new, mut escaped) = (true, false, false, false);
    for &c in challenge {
        if in_var {
            if c.is_ascii_whitespace() {
                continue;
            }
            if c == b'=' {
                in_var = false;
                new = true;
            } else {
                var.push(c);
            }
        } else if new {
            if c == b'"' {
                in_quotes = true;
            } else {
                val.push(c);
            }
            new = false;
        } else if in_quotes {
            if escaped {
                escaped = false;
                val.push(c);
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_quotes = false;
            } else {
                val.push(c);
            }
        } else if c == b',' {
            if !var.is_empty() {
                ret.insert(String::from_utf8(var.clone()).unwrap(), val.clone());
            }
            var.clear();
            val.clear();
            in_var = true;
        } else {
            val.push(c);
        }
    }
    if !var.is_empty() {
        ret.insert(String::from_utf8(var).unwrap(), val);
    }
    ret
}

/// pure-sasl's `quote`: escape backslashes and double quotes, then enclose.
fn pure_sasl_quote(s: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for &b in s {
        if b == b'\\' || b == b'"' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

fn md5_hex(data: &[u8]) -> String {
    format!("{:x}", Md5::digest(data))
}

/// pure-sasl's `gen_hash`: user and password as UTF-8 (it never converts to ISO-8859-1),
/// no authzid.
fn pure_sasl_hash(
    fields: &HashMap<String, Vec<u8>>,
    user: &str,
    pw: &str,
    cnonce: &[u8],
    a2: &[u8],
) -> String {
    let realm = &fields["realm"];
    let nonce = &fields["nonce"];
    let key = Md5::digest([user.as_bytes(), b":", realm, b":", pw.as_bytes()].concat());
    let a1 = md5_hex(&[key.as_slice(), b":", nonce, b":", cnonce].concat());
    let kd = [
        a1.as_bytes(),
        b":",
        nonce,
        b":00000001:",
        cnonce,
        b":auth:",
        md5_hex(a2).as_bytes(),
    ]
    .concat();
    md5_hex(&kd)
}

/// pure-sasl's `response()` for the challenge, in its directive order, with the
/// `digest-uri` kazoo makes it send (service "zookeeper", host "zk-sasl-md5").
fn pure_sasl_response(challenge: &[u8], user: &str, pw: &str, cnonce: &[u8]) -> Vec<u8> {
    let fields = pure_sasl_parse_challenge(challenge);
    let uri = b"zookeeper/zk-sasl-md5";
    let response = pure_sasl_hash(
        &fields,
        user,
        pw,
        cnonce,
        &[b"AUTHENTICATE:", &uri[..]].concat(),
    );
    [
        b"qop=auth,realm=".to_vec(),
        pure_sasl_quote(&fields["realm"]),
        b",username=".to_vec(),
        pure_sasl_quote(user.as_bytes()),
        b",nonce=".to_vec(),
        pure_sasl_quote(&fields["nonce"]),
        b",cnonce=".to_vec(),
        pure_sasl_quote(cnonce),
        b",nc=00000001,digest-uri=".to_vec(),
        pure_sasl_quote(uri),
        b",response=".to_vec(),
        response.into_bytes(),
    ]
    .concat()
}

/// pure-sasl's `authenticate_server`: the rspauth it expects.
fn pure_sasl_rspauth(challenge: &[u8], user: &str, pw: &str, cnonce: &[u8]) -> Vec<u8> {
    let fields = pure_sasl_parse_challenge(challenge);
    let hash = pure_sasl_hash(&fields, user, pw, cnonce, b":zookeeper/zk-sasl-md5");
    [b"rspauth=".as_slice(), hash.as_bytes()].concat()
}

/// A digest-response with the given fields, each quoted as pure-sasl does.
fn response_with(fields: &[(&str, &[u8])]) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = fields
        .iter()
        .map(|(k, v)| {
            let quoted = matches!(*k, "qop" | "nc" | "response" | "maxbuf" | "charset");
            let v = if quoted {
                v.to_vec()
            } else {
                pure_sasl_quote(v)
            };
            [k.as_bytes(), b"=", &v].concat()
        })
        .collect();
    parts.join(&b","[..])
}

/// The digest-response for kazoo's `jaasuser` against FIXED_NONCE with cnonce
/// "fixedcnonce" (Python: response 53a19f44d77dc01e294849236588d52b).
fn fixed_response() -> Vec<u8> {
    response_with(&[
        ("qop", b"auth"),
        ("realm", b"zk-sasl-md5"),
        ("username", b"jaasuser"),
        ("nonce", FIXED_NONCE),
        ("cnonce", b"fixedcnonce"),
        ("nc", b"00000001"),
        ("digest-uri", b"zookeeper/zk-sasl-md5"),
        ("response", b"53a19f44d77dc01e294849236588d52b"),
    ])
}

fn replace(token: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8(token.to_vec())
        .unwrap()
        .replace(from, to)
        .into_bytes()
}

#[test]
fn rfc2831_examples() {
    // RFC 2831 §4, the IMAP and ACAP examples; the RFC's values agree with Python's.
    for (nonce, cnonce, uri, response, rspauth) in [
        (
            &b"OA6MG9tEQGm2hh"[..],
            &b"OA6MHXh6VqTrRk"[..],
            &b"imap/elwood.innosoft.com"[..],
            b"d388dad90d4bbd760a152321f2143af7",
            b"ea40f60335c427b5527b84dbabcdfffd",
        ),
        (
            b"OA9BSXrbuRhWay",
            b"OA9BSuZWMSpW8m",
            b"acap/elwood.innosoft.com",
            b"6084c6db3fede7352c551284490fd0fc",
            b"2f0b3d7c3c2e486600ef710726aa2eae",
        ),
    ] {
        let inputs = ResponseInputs {
            digest_uri: uri,
            qop: "auth",
            username: "chris",
            realm: "elwood.innosoft.com",
            password: "secret",
            nonce,
            cnonce,
            authzid: None,
        };
        assert_eq!(&inputs.response_value("AUTHENTICATE"), response);
        assert_eq!(&inputs.response_value(""), rspauth);
    }
}

#[test]
fn challenge_is_javas() {
    let mut server = DigestMd5Server::new(kazoo_users());
    let Ok(Step::Challenge(challenge)) = server.step(b"") else {
        panic!("expected a challenge");
    };
    let text = String::from_utf8(challenge.clone()).unwrap();
    let nonce = text
        .strip_prefix("realm=\"zk-sasl-md5\",nonce=\"")
        .and_then(|rest| rest.strip_suffix("\",charset=utf-8,algorithm=md5-sess"))
        .unwrap_or_else(|| panic!("unexpected challenge {text}"));
    assert_eq!(nonce.len(), 40);
    assert!(
        nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    );
    // pure-sasl reads it as intended.
    let fields = pure_sasl_parse_challenge(&challenge);
    assert_eq!(fields["realm"], b"zk-sasl-md5");
    assert_eq!(fields["nonce"], nonce.as_bytes());
    assert_eq!(fields["charset"], b"utf-8");
    assert_eq!(fields["algorithm"], b"md5-sess");
    assert!(
        !fields.contains_key("qop"),
        "Java sends no qop; absent means auth"
    );
    // Fresh nonce per exchange.
    let mut other = DigestMd5Server::new(kazoo_users());
    assert_ne!(other.step(b"").unwrap(), Step::Challenge(challenge));
}

#[test]
fn full_exchange_as_pure_sasl() {
    let mut server = DigestMd5Server::new(kazoo_users());
    let Ok(Step::Challenge(challenge)) = server.step(b"") else {
        panic!("expected a challenge");
    };
    let cnonce = b"49881307058702684";
    let response = pure_sasl_response(&challenge, "jaasuser", "jaas_password", cnonce);
    let (token, id) = done(server.step(&response));
    assert_eq!(id, "jaasuser");
    assert_eq!(
        token,
        pure_sasl_rspauth(&challenge, "jaasuser", "jaas_password", cnonce)
    );
    assert!(server.is_finished());
    // The exchange is over: a replay (or anything else) is refused.
    assert!(matches!(
        server.step(&response),
        Err(SaslError::InvalidState)
    ));
    assert!(matches!(server.step(b""), Err(SaslError::InvalidState)));
}

#[test]
fn pure_sasl_captured_response() {
    // Bytes printed by pure-sasl 0.6.2 itself (SASLClient(host="zk-sasl-md5",
    // service="zookeeper", mechanism="DIGEST-MD5", username="jaasuser",
    // password="jaas_password"), random.seed(2831)) for the challenge
    // realm="zk-sasl-md5",nonce="<FIXED_NONCE>",charset=utf-8,algorithm=md5-sess.
    let response = b"qop=auth,realm=\"zk-sasl-md5\",username=\"jaasuser\",\
        nonce=\"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZn\",cnonce=\"49881307058702684\",\
        nc=00000001,digest-uri=\"zookeeper/zk-sasl-md5\",response=b5387858bf2743b9fae280471561669a";
    let mut server = challenged(kazoo_users(), FIXED_NONCE);
    let (token, id) = done(server.step(response));
    assert_eq!(id, "jaasuser");
    // Python: rspauth for that exchange.
    assert_eq!(token, b"rspauth=417511433fffa3266e1bf19ddef46a4a");
}

#[test]
fn fixed_exchange_and_authzid_is_not_the_identity() {
    let (token, id) = done(challenged(kazoo_users(), FIXED_NONCE).step(&fixed_response()));
    assert_eq!(id, "jaasuser");
    // Python: rspauth 1d657073014b65c38b8f573bfc5fe6fe.
    assert_eq!(token, b"rspauth=1d657073014b65c38b8f573bfc5fe6fe");

    // With authzid="super": it enters A1 (Python: response 08bc4d07..., rspauth
    // 5053a548...), but ZooKeeper's callback derives the id from the user name.
    let with_authzid = [fixed_response().as_slice(), b",authzid=\"super\""].concat();
    let with_authzid = replace(
        &with_authzid,
        "53a19f44d77dc01e294849236588d52b",
        "08bc4d076a021e7239285ff0a72ea2cd",
    );
    let (token, id) = done(challenged(kazoo_users(), FIXED_NONCE).step(&with_authzid));
    assert_eq!(id, "jaasuser");
    assert_eq!(token, b"rspauth=5053a548d796bf1d90eac3db8153e9fd");
    // The authzid is covered by the hash: changing it fails.
    let tampered = replace(&with_authzid, "authzid=\"super\"", "authzid=\"root\"");
    assert!(matches!(
        challenged(kazoo_users(), FIXED_NONCE).step(&tampered),
        Err(SaslError::WrongResponse(_))
    ));
}

#[test]
fn digest_uri_is_compared_ignoring_case_and_hashed_as_sent() {
    // Python: with digest-uri "ZooKeeper/ZK-SASL-MD5", response 576df2a0..., rspauth
    // 782a98bb....
    let token = replace(
        &fixed_response(),
        "zookeeper/zk-sasl-md5",
        "ZooKeeper/ZK-SASL-MD5",
    );
    let token = replace(
        &token,
        "53a19f44d77dc01e294849236588d52b",
        "576df2a082643d5cef068540262b6c23",
    );
    let (rspauth, _) = done(challenged(kazoo_users(), FIXED_NONCE).step(&token));
    assert_eq!(rspauth, b"rspauth=782a98bb52db70ac5ddcc843103e7a57");
}

#[test]
fn user_and_password_are_hashed_as_latin1_when_they_fit() {
    // Python: user "jé" (ISO-8859-1) and password "päss" (ISO-8859-1): 9758abf9...;
    // password "p€ss" has a character beyond U+00FF, so it is hashed as UTF-8: 209b6f0a....
    for (password, response) in [
        ("päss", "9758abf987ed4537079a1cb0e5a8d723"),
        ("p€ss", "209b6f0a834b62ad665ab20e7318d561"),
    ] {
        let users = Arc::new([("jé", password)].into_iter().collect());
        let token = response_with(&[
            ("username", "jé".as_bytes()),
            ("realm", b"zk-sasl-md5"),
            ("nonce", FIXED_NONCE),
            ("cnonce", b"fixedcnonce"),
            ("nc", b"00000001"),
            ("qop", b"auth"),
            ("digest-uri", b"zookeeper/zk-sasl-md5"),
            ("charset", b"utf-8"),
            ("response", response.as_bytes()),
        ]);
        let (_, id) = done(challenged(users, FIXED_NONCE).step(&token));
        assert_eq!(id, "jé");
    }
}

#[test]
fn wrong_password_and_unknown_user() {
    let mut server = DigestMd5Server::new(kazoo_users());
    let Ok(Step::Challenge(challenge)) = server.step(b"") else {
        panic!("expected a challenge");
    };
    let bad = pure_sasl_response(&challenge, "jaasuser", "wrong", b"c1");
    assert!(matches!(server.step(&bad), Err(SaslError::WrongResponse(u)) if u == "jaasuser"));
    // No second try against the same nonce.
    let good = pure_sasl_response(&challenge, "jaasuser", "jaas_password", b"c1");
    assert!(matches!(server.step(&good), Err(SaslError::InvalidState)));

    let mut server = DigestMd5Server::new(kazoo_users());
    let Ok(Step::Challenge(challenge)) = server.step(b"") else {
        panic!("expected a challenge");
    };
    // kazoo's test_invalid_sasl_auth.
    let unknown = pure_sasl_response(&challenge, "baduser", "badpassword", b"c1");
    assert!(matches!(server.step(&unknown), Err(SaslError::UnknownUser(u)) if u == "baduser"));
}

#[test]
fn super_password_override() {
    let mut users: DigestUsers = [("super", "from_file")].into_iter().collect();
    assert!(users.set_super_password("from_property"));
    let mut server = DigestMd5Server::new(Arc::new(users));
    let Ok(Step::Challenge(challenge)) = server.step(b"") else {
        panic!("expected a challenge");
    };
    let response = pure_sasl_response(&challenge, "super", "from_property", b"c");
    assert_eq!(done(server.step(&response)).1, "super");
}

#[test]
fn stale_nonce_is_refused() {
    // A response to another exchange's challenge (or a replay on a new connection).
    let mut server = DigestMd5Server::new(kazoo_users());
    assert!(matches!(server.step(b""), Ok(Step::Challenge(_))));
    assert!(matches!(
        server.step(&fixed_response()),
        Err(SaslError::NonceMismatch)
    ));
}

#[test]
fn refusals() {
    type Check = fn(&SaslError) -> bool;
    let cases: Vec<(Vec<u8>, Check)> = vec![
        (
            replace(
                &fixed_response(),
                "zookeeper/zk-sasl-md5",
                "zookeeper/other-host",
            ),
            |e| matches!(e, SaslError::BadDigestUri { found: Some(_) }),
        ),
        (
            replace(
                &fixed_response(),
                ",digest-uri=\"zookeeper/zk-sasl-md5\"",
                "",
            ),
            |e| matches!(e, SaslError::BadDigestUri { found: None }),
        ),
        (
            replace(
                &fixed_response(),
                "realm=\"zk-sasl-md5\"",
                "realm=\"other\"",
            ),
            |e| matches!(e, SaslError::BadRealm { .. }),
        ),
        (
            replace(&fixed_response(), "realm=\"zk-sasl-md5\",", ""),
            |e| matches!(e, SaslError::BadRealm { found } if found.is_empty()),
        ),
        (
            replace(&fixed_response(), "qop=auth", "qop=auth-int"),
            |e| matches!(e, SaslError::UnsupportedQop(q) if q == "auth-int"),
        ),
        (
            replace(&fixed_response(), "qop=auth", "qop=auth-conf"),
            |e| matches!(e, SaslError::UnsupportedQop(_)),
        ),
        (
            replace(&fixed_response(), "nc=00000001", "nc=00000002"),
            |e| matches!(e, SaslError::BadNonceCount(_)),
        ),
        (replace(&fixed_response(), "nc=00000001", "nc=zz"), |e| {
            matches!(e, SaslError::BadNonceCount(_))
        }),
        (
            [fixed_response().as_slice(), b",charset=iso-8859-1"].concat(),
            |e| matches!(e, SaslError::Malformed(_)),
        ),
        (
            [fixed_response().as_slice(), b",maxbuf=lots"].concat(),
            |e| matches!(e, SaslError::Malformed(_)),
        ),
        (
            [fixed_response().as_slice(), b",username=\"super\""].concat(),
            |e| matches!(e, SaslError::Malformed(m) if m.contains("more than one")),
        ),
        (
            replace(&fixed_response(), ",cnonce=\"fixedcnonce\"", ""),
            |e| matches!(e, SaslError::Malformed(m) if m.contains("cnonce")),
        ),
        (
            replace(
                &fixed_response(),
                ",response=53a19f44d77dc01e294849236588d52b",
                "",
            ),
            |e| matches!(e, SaslError::Malformed(m) if m.contains("response")),
        ),
        (
            replace(&fixed_response(), "username=\"jaasuser\",", ""),
            |e| matches!(e, SaslError::Malformed(m) if m.contains("username")),
        ),
        (
            // Uppercase hex is not what Java compares against.
            replace(
                &fixed_response(),
                "53a19f44d77dc01e294849236588d52b",
                "53A19F44D77DC01E294849236588D52B",
            ),
            |e| matches!(e, SaslError::WrongResponse(_)),
        ),
        (replace(&fixed_response(), "jaasuser", "ja\u{ff}"), |e| {
            matches!(e, SaslError::UnknownUser(_))
        }),
    ];
    for (token, expected) in cases {
        let err = challenged(kazoo_users(), FIXED_NONCE)
            .step(&token)
            .expect_err(&String::from_utf8_lossy(&token));
        assert!(
            expected(&err),
            "{err} for {}",
            String::from_utf8_lossy(&token)
        );
    }
}

#[test]
fn java_leniencies_that_stay() {
    // Without nc (Java's server never reads it) and with Java's own name for it.
    for token in [
        replace(&fixed_response(), ",nc=00000001", ""),
        replace(&fixed_response(), "nc=00000001", "nonce-count=00000001"),
        // Without qop (defaults to auth), with an unknown directive, echoing charset.
        replace(&fixed_response(), "qop=auth,", ""),
        [
            fixed_response().as_slice(),
            b",x-ext=\"whatever\",charset=utf-8,maxbuf=65536",
        ]
        .concat(),
    ] {
        let (_, id) = done(challenged(kazoo_users(), FIXED_NONCE).step(&token));
        assert_eq!(id, "jaasuser");
    }
}

#[test]
fn lenient_syntax() {
    // White space around everything, empty elements, case-insensitive names, escapes.
    let token = b"  ,, QOP = auth ,\tRealm=\"zk-\\sasl-md5\" , username = \"jaasuser\",nonce=\"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZn\" ,\r\n cnonce=\"fixedcnonce\",nc=00000001,,digest-uri=\"zookeeper/zk-sasl-md5\",response=53a19f44d77dc01e294849236588d52b ,  ";
    let (_, id) = done(challenged(kazoo_users(), FIXED_NONCE).step(token));
    assert_eq!(id, "jaasuser");
}

#[test]
fn garbage_and_truncations_are_errors() {
    for garbage in [
        &b""[..],
        b",",
        b"\"",
        b"=",
        b"\\",
        b"\x00\xff\xfe",
        b"rspauth=0123",
        b"username",
        "username=\"\u{fffd}\"".as_bytes(),
        b"username=\"\xff\"",
    ] {
        assert!(
            challenged(kazoo_users(), FIXED_NONCE)
                .step(garbage)
                .is_err(),
            "{}",
            String::from_utf8_lossy(garbage)
        );
    }
    let full = fixed_response();
    for len in 0..full.len() {
        assert!(
            challenged(kazoo_users(), FIXED_NONCE)
                .step(&full[..len])
                .is_err(),
            "prefix of {len} bytes accepted"
        );
    }
    assert!(challenged(kazoo_users(), FIXED_NONCE).step(&full).is_ok());
}

#[test]
fn token_length_bound() {
    let mut server = DigestMd5Server::new(kazoo_users());
    // An initial response is ignored (as Java does), up to the bound.
    assert!(matches!(
        server.step(&[b'x'; MAX_TOKEN_LEN]),
        Ok(Step::Challenge(_))
    ));
    assert!(matches!(
        server.step(&[b'x'; MAX_TOKEN_LEN + 1]),
        Err(SaslError::TokenTooLong {
            len: 4097,
            max: 4096
        })
    ));
    assert!(server.is_finished());
    let mut server = DigestMd5Server::new(kazoo_users());
    assert!(matches!(
        server.step(&[0; MAX_TOKEN_LEN + 1]),
        Err(SaslError::TokenTooLong { .. })
    ));
    // A long but valid response (padding in an ignored directive) is fine.
    let padded = [
        fixed_response().as_slice(),
        b",x=\"",
        &vec![b'p'; MAX_TOKEN_LEN - fixed_response().len() - 5],
        b"\"",
    ]
    .concat();
    assert_eq!(padded.len(), MAX_TOKEN_LEN);
    assert!(challenged(kazoo_users(), FIXED_NONCE).step(&padded).is_ok());
}

#[test]
fn principal_shaped_ids() {
    assert_eq!(sasl_id("alice", false, false).unwrap(), "alice");
    assert_eq!(sasl_id("alice", true, true).unwrap(), "alice");
    // No '@': not a principal, used as is whatever the flags.
    assert_eq!(sasl_id("alice/host", true, true).unwrap(), "alice/host");
    // Java's default realm without Kerberos configuration is "": DEFAULT rule applies.
    assert_eq!(sasl_id("alice@", false, false).unwrap(), "alice@");
    assert_eq!(sasl_id("alice@", false, true).unwrap(), "alice");
    assert_eq!(sasl_id("zk/host@", false, false).unwrap(), "zk/host@");
    assert_eq!(sasl_id("zk/host@", true, false).unwrap(), "zk@");
    assert_eq!(sasl_id("zk/host@", true, true).unwrap(), "zk");
    // Another realm: no auth_to_local rule applies; the name is kept.
    assert_eq!(
        sasl_id("bob@EXAMPLE.COM", true, true).unwrap(),
        "bob@EXAMPLE.COM"
    );
    assert!(matches!(
        sasl_id("a@b@c", false, false),
        Err(SaslError::BadPrincipal(_))
    ));

    // Applied by the server, after the password check.
    let users = Arc::new(
        [("zk/host@", "pw"), ("a@b@c", "pw")]
            .into_iter()
            .collect::<DigestUsers>(),
    );
    for (user, expected) in [("zk/host@", Some("zk")), ("a@b@c", None)] {
        let mut server = DigestMd5Server::new(users.clone()).with_principal_rules(true, true);
        let Ok(Step::Challenge(challenge)) = server.step(b"") else {
            panic!("expected a challenge");
        };
        let response = pure_sasl_response(&challenge, user, "pw", b"c");
        match (server.step(&response), expected) {
            (
                Ok(Step::Done {
                    authorization_id,
                    authentication_id,
                    ..
                }),
                Some(id),
            ) => {
                assert_eq!(authorization_id, id);
                assert_eq!(authentication_id, user);
            }
            (Err(SaslError::BadPrincipal(_)), None) => {}
            (other, _) => panic!("{user}: {other:?}"),
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_tokens_never_panic(token in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = challenged(kazoo_users(), FIXED_NONCE).step(&token);
        let mut server = DigestMd5Server::new(kazoo_users());
        let _ = server.step(&token);
        let _ = server.step(&token);
    }

    #[test]
    fn mutated_responses_never_panic(pos in 0usize..200, byte in any::<u8>()) {
        let mut token = fixed_response();
        let at = pos % token.len();
        token[at] = byte;
        let _ = challenged(kazoo_users(), FIXED_NONCE).step(&token);
    }
}
