//! Tests of the JAAS configuration parser.

use super::*;

/// What kazoo 2.11's test harness writes with ZOOKEEPER_JAAS_AUTH=digest
/// (`kazoo/testing/harness.py`, written to jaas.conf by `kazoo/testing/common.py`).
const KAZOO_DIGEST: &str = r#"
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="super_secret"
    user_jaasuser="jaas_password";
};"#;

/// kazoo's ZOOKEEPER_JAAS_AUTH=gssapi file (the keytab path substituted).
const KAZOO_GSSAPI: &str = r#"
Server {
  com.sun.security.auth.module.Krb5LoginModule required
  debug=true
  isInitiator=false
  useKeyTab=true
  keyTab="/tmp/krb5/server.keytab"
  storeKey=true
  useTicketCache=false
  principal="zookeeper/127.0.0.1@KAZOOTEST.ORG";
};"#;

/// ZooKeeper's test resource `embedded/test_jaas_server_auth.conf`.
const ZK_EMBEDDED: &str = r#"Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_foo="bar";
};
Client {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="foo"
       password="bar";
};
QuorumServer {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_test="test";
};
QuorumLearner {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="test"
       password="test";
};
"#;

/// The ZooKeeper wiki's "Client-Server mutual authentication" example, as written by
/// `SaslAuthDesignatedServerTest` (no newline between `};` and the next section).
const ZK_WIKI: &str = "Server {\n          org.apache.zookeeper.server.auth.DigestLoginModule required\n          user_super=\"adminsecret\"\n          user_bob=\"bobsecret\";\n};\nClient {\n       org.apache.zookeeper.server.auth.DigestLoginModule required\n       username=\"bob\"\n       password=\"bobsecret\";\n};MyClient {\n       org.apache.zookeeper.server.auth.DigestLoginModule required\n       username=\"bob\"\n       password=\"bobsecret\";\n};\n";

fn names(users: &DigestUsers) -> Vec<(&str, &str)> {
    users
        .names()
        .into_iter()
        .map(|n| (n, users.password(n).unwrap()))
        .collect()
}

fn syntax_line(text: &str) -> (usize, String) {
    match parse(text) {
        Err(JaasError::Syntax { at, message }) => (at.line, message),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn kazoo_digest_file() {
    let config = parse(KAZOO_DIGEST).unwrap();
    assert_eq!(config.section_names(), vec!["Server"]);
    let modules = config.section("Server").unwrap();
    assert_eq!(modules.len(), 1);
    assert_eq!(modules[0].class, DIGEST_LOGIN_MODULE);
    assert_eq!(modules[0].flag, "required");
    assert_eq!(modules[0].line, 3);
    let users = config.digest_users("Server").unwrap();
    assert_eq!(
        names(&users),
        vec![("jaasuser", "jaas_password"), ("super", "super_secret")]
    );
}

#[test]
fn kazoo_gssapi_file_is_refused_naming_the_class() {
    let config = parse(KAZOO_GSSAPI).unwrap();
    let modules = config.section("Server").unwrap();
    assert_eq!(modules[0].option("keyTab"), Some("/tmp/krb5/server.keytab"));
    assert_eq!(modules[0].option("debug"), Some("true"));
    let err = config.digest_users("Server").unwrap_err();
    assert!(
        matches!(&err, JaasError::UnsupportedModule { class, at, .. }
        if class == "com.sun.security.auth.module.Krb5LoginModule" && at.line == 3)
    );
    assert!(err.to_string().contains("Krb5LoginModule"), "{err}");
}

#[test]
fn kazoo_without_jaas_writes_an_empty_file() {
    let config = parse("").unwrap();
    assert!(config.section_names().is_empty());
    assert!(matches!(
        config.digest_users("Server"),
        Err(JaasError::NoSection { .. })
    ));
}

#[test]
fn zookeeper_examples() {
    let config = parse(ZK_EMBEDDED).unwrap();
    assert_eq!(
        config.section_names(),
        vec!["Server", "Client", "QuorumServer", "QuorumLearner"]
    );
    assert_eq!(
        names(&config.digest_users("Server").unwrap()),
        vec![("foo", "bar")]
    );
    // zookeeper.sasl.serverconfig may name another section.
    assert_eq!(
        names(&config.digest_users("QuorumServer").unwrap()),
        vec![("test", "test")]
    );
    // A client section has no user_ options: no users.
    assert!(config.digest_users("Client").unwrap().is_empty());

    let config = parse(ZK_WIKI).unwrap();
    assert_eq!(config.section_names(), vec!["Server", "Client", "MyClient"]);
    assert_eq!(
        names(&config.digest_users("Server").unwrap()),
        vec![("bob", "bobsecret"), ("super", "adminsecret")]
    );
    let err = config.digest_users("server").unwrap_err();
    assert!(err.to_string().contains("\"server\""), "{err}");
}

#[test]
fn comments_quotes_and_layout() {
    let text = r#"
// a line comment
/* a block
   comment */ Server /* inline */ {
    org.apache.zookeeper.server.auth.DigestLoginModule REQUIRED   // flag in any case
        user_plain=plain-word.with$odd_chars*
        "user_quoted key"='single quotes are not values'
        user_esc="a\"b\\c\td\101\7x"
        user_empty=""
        user_bob="first"
        user_bob="second";
    "org.apache.zookeeper.server.auth.DigestLoginModule" optional user_carol="c";
};
Other{x.Y sufficient;};
"#;
    let err = parse(text).unwrap_err();
    // Java's match() takes only double-quoted strings as values.
    assert!(
        matches!(&err, JaasError::Syntax { at, .. } if at.line == 7),
        "{err}"
    );

    let text = text.replace("='single quotes are not values'", "=\"v\"");
    let config = parse(&text).unwrap();
    let users = config.digest_users("Server").unwrap();
    assert_eq!(users.password("plain"), Some("plain-word.with$odd_chars*"));
    assert_eq!(users.password("quoted key"), Some("v"));
    assert_eq!(users.password("esc"), Some("a\"b\\c\tdA\u{7}x"));
    assert_eq!(users.password("empty"), Some(""));
    assert_eq!(users.password("bob"), Some("second"));
    assert_eq!(users.password("carol"), Some("c"));
    let modules = config.section("Server").unwrap();
    assert_eq!(modules[1].flag, "optional");
    assert_eq!(modules[1].line, 12);
    let other = config.section("Other").unwrap();
    assert_eq!(other[0].class, "x.Y");
    assert!(other[0].options.is_empty());
}

#[test]
fn several_modules_later_users_win_and_any_other_module_is_refused() {
    let text = r#"
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required user_a="1" user_b="2";
    org.apache.zookeeper.server.auth.DigestLoginModule optional user_a="3";
};
Mixed {
    org.apache.zookeeper.server.auth.DigestLoginModule required user_a="1";
    com.example.Other required;
};
"#;
    let config = parse(text).unwrap();
    assert_eq!(
        names(&config.digest_users("Server").unwrap()),
        vec![("a", "3"), ("b", "2")]
    );
    assert!(matches!(
        config.digest_users("Mixed"),
        Err(JaasError::UnsupportedModule { class, .. }) if class == "com.example.Other"
    ));
}

#[test]
fn empty_section_is_absent_as_in_java() {
    let config = parse("Server { };").unwrap();
    assert_eq!(config.section_names(), vec!["Server"]);
    assert!(config.section("Server").is_none());
    assert!(matches!(
        config.digest_users("Server"),
        Err(JaasError::NoSection { .. })
    ));
}

#[test]
fn property_expansion_is_refused_for_users() {
    let config = parse(
        "Server {\n org.apache.zookeeper.server.auth.DigestLoginModule required\n user_a=\"${pw}\";\n};",
    )
    .unwrap();
    let err = config.digest_users("Server").unwrap_err();
    assert!(matches!(&err, JaasError::PropertyExpansion { key, .. } if key == "user_a"));
}

#[test]
fn syntax_errors_name_the_line() {
    let cases = [
        // Missing ';' after the options: '}' where an option is expected.
        (
            "Server {\n  a.B required\n  user_x=\"y\"\n};\n",
            4,
            "an option or ';'",
        ),
        // Unquoted number.
        (
            "Server {\n  a.B required\n  user_x=123;\n};\n",
            3,
            "number 123",
        ),
        // Bad flag.
        (
            "Server {\n  a.B mandatory;\n};\n",
            2,
            "invalid control flag",
        ),
        // Missing '=' between key and value.
        ("Server {\n  a.B required\n  user_x \"y\";\n};\n", 3, "'='"),
        // Missing the ';' after '}'.
        ("Server {\n  a.B required;\n}\nClient {\n};\n", 4, "';'"),
        // End of file inside a section.
        ("Server {\n  a.B required\n", 2, "end of the file"),
        // Quoted string not closed on its line.
        (
            "Server {\n  a.B required\n  user_x=\"y\n\";\n};",
            3,
            "not closed",
        ),
        // Unterminated block comment.
        ("Server {\n /* never closed\n\n", 2, "unterminated"),
        // '#' is not a comment in JAAS files.
        ("# comment\nServer {\n};\n", 1, "'#'"),
        // Duplicate section.
        ("A {\n};\nA {\n};\n", 3, "more than once"),
        // A section name must be a word or a string.
        ("{ };", 1, "a section name"),
        // CRLF line ends count once.
        (
            "Server {\r\n  a.B required\r\n  user_x=;\r\n};",
            3,
            "a value for option user_x",
        ),
    ];
    for (text, line, needle) in cases {
        let (got_line, message) = syntax_line(text);
        assert_eq!(got_line, line, "{text:?}: {message}");
        assert!(message.contains(needle), "{text:?}: {message}");
    }
}

#[test]
fn load_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jaas.conf");
    std::fs::write(&path, "\u{feff}Server {\n  a.B required\n  user_x=1;\n};\n").unwrap();
    let err = load(&path).unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("{}:3: ", path.display())),
        "{shown}"
    );

    std::fs::write(&path, KAZOO_DIGEST).unwrap();
    let config = load(&path).unwrap();
    assert_eq!(config.file(), Some(path.as_path()));
    assert_eq!(config.digest_users("Server").unwrap().len(), 2);
    let err = config.digest_users("Missing").unwrap_err();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    let missing = dir.path().join("absent.conf");
    let err = load(&missing).unwrap_err();
    assert!(matches!(&err, JaasError::Io { file, .. } if file == &missing));

    std::fs::write(&path, b"Server {\xff};").unwrap();
    assert!(matches!(load(&path), Err(JaasError::Io { .. })));
}

#[test]
fn arbitrary_text_never_panics() {
    // Every prefix of a realistic file, and a few odd inputs.
    let text = format!("{ZK_WIKI}{KAZOO_GSSAPI}/* c */ X {{ a.B required k=\"\\377\\4\\\n\"; }};");
    let mut end = 0;
    while end <= text.len() {
        if text.is_char_boundary(end) {
            let _ = parse(&text[..end]);
        }
        end += 1;
    }
    for odd in [
        "\u{0}",
        "-",
        "-1",
        ".",
        "/",
        "*/",
        "\\",
        "'",
        "\"",
        "\u{ffff}{",
        "A{B C;};",
        "A{B C D;};",
    ] {
        let _ = parse(odd);
    }
}
