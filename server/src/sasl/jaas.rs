//! The JAAS login configuration file (`-Djava.security.auth.login.config=...`), parsed the
//! way Java's `sun.security.provider.ConfigFile` does (a `StreamTokenizer`):
//!
//! ```text
//! Server {                                   // a section ("application name")
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!     user_super="adminsecret"               /* user_<name>="<password>" */
//!     user_bob=bobsecret;
//! };
//! ```
//!
//! Tokens: words (letters, digits, `. - $ _ *` and characters from U+00A0 up, not starting
//! with a digit, `.` or `-`), quoted strings (`"` or `'`, with Java escapes), the
//! punctuation `{ } ; =`, `//` and `/* */` comments (a lone `/` also starts a comment to
//! the end of the line). As in Java, an unquoted number is not a valid value (`key=123`
//! fails: write `key="123"`), a section may appear only once, and the control flag is one
//! of required, requisite, sufficient, optional (any case). Where Java silently accepts a
//! quoted string running to the end of the line or an unterminated comment, we refuse it.

use std::fmt;
use std::path::{Path, PathBuf};

use super::DigestUsers;

/// The login module whose `user_<name>` options are ZooKeeper's DIGEST-MD5 users.
pub const DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";
/// The prefix of the options that define DIGEST-MD5 users
/// (`ServerCnxnFactory.DIGEST_MD5_USER_PREFIX`).
pub const USER_PREFIX: &str = "user_";
/// JAAS files are a few lines; anything bigger is not one.
const MAX_FILE_LEN: u64 = 1 << 20;

const CONTROL_FLAGS: [&str; 4] = ["required", "requisite", "sufficient", "optional"];

/// Where in the configuration something is: the file (when loaded from one) and the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Option<PathBuf>,
    /// 1-based.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}", file.display(), self.line),
            None => write!(f, "JAAS configuration line {}", self.line),
        }
    }
}

/// Names the JAAS file (or "JAAS configuration" for parsed text) in errors.
struct FileName<'a>(&'a Option<PathBuf>);

impl fmt::Display for FileName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(file) => write!(f, "JAAS file {}", file.display()),
            None => f.write_str("JAAS configuration"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JaasError {
    #[error("cannot read JAAS file {}: {source}", file.display())]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("JAAS file {} is {len} bytes; a JAAS configuration is at most {MAX_FILE_LEN}", file.display())]
    TooLarge { file: PathBuf, len: u64 },
    #[error("{at}: {message}")]
    Syntax { at: Location, message: String },
    #[error(
        "{}: no section named {section:?} (sections: {available:?})",
        FileName(file)
    )]
    NoSection {
        file: Option<PathBuf>,
        section: String,
        available: Vec<String>,
    },
    #[error(
        "{at}: section {section:?} uses login module {class}; ferrokeeper supports SASL only \
         with DIGEST-MD5 users from {DIGEST_LOGIN_MODULE} (no Kerberos/GSSAPI)"
    )]
    UnsupportedModule {
        at: Location,
        section: String,
        class: String,
    },
    #[error(
        "{at}: option {key} uses ${{...}} (Java system property expansion), which \
         ferrokeeper does not do; write the value literally"
    )]
    PropertyExpansion { at: Location, key: String },
    #[error("{at}: section {section:?} needs the options username and password")]
    NoCredentials { at: Location, section: String },
}

/// One login module line of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginModule {
    /// The module class, e.g. `org.apache.zookeeper.server.auth.DigestLoginModule`.
    pub class: String,
    /// The control flag as written (checked to be one of the four, in any case).
    pub flag: String,
    /// The options in file order; a repeated key is kept twice and the later one wins
    /// (Java keeps them in a map).
    pub options: Vec<(String, String)>,
    /// The line of the class name.
    pub line: usize,
}

impl LoginModule {
    /// The value of option `key` (the last one if repeated).
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    name: String,
    modules: Vec<LoginModule>,
}

/// A parsed JAAS configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasConfig {
    sections: Vec<Section>,
    file: Option<PathBuf>,
}

/// Parses JAAS configuration text.
pub fn parse(text: &str) -> Result<JaasConfig, JaasError> {
    parse_from(text, None)
}

/// Reads and parses a JAAS file (UTF-8, as Java reads it); errors name the file and line.
pub fn load(path: &Path) -> Result<JaasConfig, JaasError> {
    let io = |source| JaasError::Io {
        file: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_LEN {
        return Err(JaasError::TooLarge {
            file: path.to_path_buf(),
            len,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    parse_from(&text, Some(path.to_path_buf()))
}

impl JaasConfig {
    /// The login modules of section `name` (case-sensitive). `None` if the section is
    /// missing or has no module: Java's `getAppConfigurationEntry` returns null for both.
    pub fn section(&self, name: &str) -> Option<&[LoginModule]> {
        self.sections
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.modules.as_slice())
            .filter(|m| !m.is_empty())
    }

    /// The section names, in file order.
    pub fn section_names(&self) -> Vec<&str> {
        self.sections.iter().map(|s| s.name.as_str()).collect()
    }

    /// The file this was loaded from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The DIGEST-MD5 users of section `section`: every option `user_<name>="<password>"`
    /// of its modules, later ones winning (`ServerCnxnFactory.getDigestMd5Credentials`).
    /// Every module must be [`DIGEST_LOGIN_MODULE`]: any other (e.g. `Krb5LoginModule`,
    /// which would make ZooKeeper use GSSAPI) is refused naming the class. A section with
    /// no `user_` option gives no users (every client will fail to authenticate).
    pub fn digest_users(&self, section: &str) -> Result<DigestUsers, JaasError> {
        let modules = self.modules(section)?;
        let at = |line| self.at(line);
        let mut users = DigestUsers::new();
        for module in modules {
            if module.class != DIGEST_LOGIN_MODULE {
                return Err(JaasError::UnsupportedModule {
                    at: at(module.line),
                    section: section.to_owned(),
                    class: module.class.clone(),
                });
            }
            for (key, value) in &module.options {
                let Some(name) = key.strip_prefix(USER_PREFIX) else {
                    continue;
                };
                // Java would substitute a system property here; using "${x}" literally as
                // a password would silently differ from ZooKeeper.
                if value.contains("${") {
                    return Err(JaasError::PropertyExpansion {
                        at: at(module.line),
                        key: key.clone(),
                    });
                }
                users.insert(name, value.as_str());
            }
        }
        Ok(users)
    }

    /// Section `section`'s modules, or which sections there are.
    fn modules(&self, section: &str) -> Result<&[LoginModule], JaasError> {
        self.section(section).ok_or_else(|| JaasError::NoSection {
            file: self.file.clone(),
            section: section.to_owned(),
            available: self.sections.iter().map(|s| s.name.clone()).collect(),
        })
    }

    fn at(&self, line: usize) -> Location {
        Location {
            file: self.file.clone(),
            line,
        }
    }

    /// The `username` and `password` options of section `section`'s DigestLoginModule:
    /// what a DIGEST-MD5 client (ZooKeeper's `QuorumLearner`, or a `Client` section)
    /// authenticates with.
    pub fn digest_credentials(&self, section: &str) -> Result<(String, String), JaasError> {
        let modules = self.modules(section)?;
        let at = |line| self.at(line);
        let mut first_line = 0;
        for module in modules {
            first_line = module.line;
            if module.class != DIGEST_LOGIN_MODULE {
                return Err(JaasError::UnsupportedModule {
                    at: at(module.line),
                    section: section.to_owned(),
                    class: module.class.clone(),
                });
            }
            if let (Some(user), Some(password)) =
                (module.option("username"), module.option("password"))
            {
                for (key, value) in [("username", user), ("password", password)] {
                    if value.contains("${") {
                        return Err(JaasError::PropertyExpansion {
                            at: at(module.line),
                            key: key.to_owned(),
                        });
                    }
                }
                return Ok((user.to_owned(), password.to_owned()));
            }
        }
        Err(JaasError::NoCredentials {
            at: at(first_line),
            section: section.to_owned(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    /// The text and the quote character (`"` or `'`).
    Quoted(String, char),
    /// An unquoted number: Java's tokenizer makes it a number, which no rule accepts.
    Number(String),
    Punct(char),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "'{w}'"),
            Tok::Quoted(s, q) => write!(f, "quoted string {q}{s}{q}"),
            Tok::Number(n) => write!(f, "number {n} (quote it: \"{n}\")"),
            Tok::Punct(c) => write!(f, "'{}'", c.escape_debug()),
        }
    }
}

struct Token {
    tok: Tok,
    line: usize,
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    file: Option<PathBuf>,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '$' | '_' | '*') || u32::from(c) >= 0xA0
}

fn is_word_part(c: char) -> bool {
    is_word_start(c) || c.is_ascii_digit() || matches!(c, '.' | '-')
}

impl Lexer<'_> {
    fn error(&self, line: usize, message: impl Into<String>) -> JaasError {
        JaasError::Syntax {
            at: Location {
                file: self.file.clone(),
                line,
            },
            message: message.into(),
        }
    }

    /// Consumes one character, counting lines (`\n`, `\r\n` and a lone `\r`).
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' || (c == '\r' && self.chars.peek() != Some(&'\n')) {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_to_eol(&mut self) {
        while self.chars.peek().is_some_and(|&c| c != '\n' && c != '\r') {
            self.bump();
        }
    }

    fn next(&mut self) -> Result<Option<Token>, JaasError> {
        loop {
            // Java's tokenizer treats every character up to the space as white space.
            while self.chars.peek().is_some_and(|&c| c <= ' ') {
                self.bump();
            }
            let line = self.line;
            let Some(&c) = self.chars.peek() else {
                return Ok(None);
            };
            if c == '/' {
                self.bump();
                if self.chars.peek() == Some(&'*') {
                    self.bump();
                    let mut prev = ' ';
                    loop {
                        match self.bump() {
                            None => return Err(self.error(line, "unterminated /* comment")),
                            Some('/') if prev == '*' => break,
                            Some(c) => prev = c,
                        }
                    }
                } else {
                    // `//`, or a lone `/`, which is a comment character in Java's default
                    // tokenizer syntax.
                    self.skip_to_eol();
                }
                continue;
            }
            let tok = if c.is_ascii_digit() || c == '.' || c == '-' {
                self.bump();
                let starts_number = c != '-'
                    || self
                        .chars
                        .peek()
                        .is_some_and(|&n| n.is_ascii_digit() || n == '.');
                if starts_number {
                    let mut n = String::from(c);
                    while let Some(&d) = self
                        .chars
                        .peek()
                        .filter(|d| d.is_ascii_digit() || **d == '.')
                    {
                        n.push(d);
                        self.bump();
                    }
                    Tok::Number(n)
                } else {
                    Tok::Punct('-')
                }
            } else if is_word_start(c) {
                let mut w = String::new();
                while let Some(&d) = self.chars.peek().filter(|d| is_word_part(**d)) {
                    w.push(d);
                    self.bump();
                }
                Tok::Word(w)
            } else if c == '"' || c == '\'' {
                self.bump();
                Tok::Quoted(self.quoted(c, line)?, c)
            } else {
                self.bump();
                Tok::Punct(c)
            };
            return Ok(Some(Token { tok, line }));
        }
    }

    /// The rest of a quoted string after its opening quote, with `StreamTokenizer`'s
    /// escapes: `\a \b \f \n \r \t \v`, octal `\0`..`\377`, and `\x` for any other `x`.
    fn quoted(&mut self, quote: char, line: usize) -> Result<String, JaasError> {
        let mut s = String::new();
        loop {
            match self.chars.peek().copied() {
                None | Some('\n' | '\r') => {
                    return Err(self.error(line, "quoted string not closed on its line"));
                }
                Some(c) if c == quote => {
                    self.bump();
                    return Ok(s);
                }
                Some('\\') => {
                    self.bump();
                    let Some(e) = self.bump() else {
                        return Err(self.error(line, "quoted string not closed on its line"));
                    };
                    let unescaped = match e {
                        'a' => '\u{7}',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'v' => '\u{b}',
                        '0'..='7' => self.octal(e),
                        other => other,
                    };
                    s.push(unescaped);
                }
                Some(c) => {
                    self.bump();
                    s.push(c);
                }
            }
        }
    }

    /// An octal escape whose first digit is `first`: up to three digits, the third only
    /// when the first is at most 3 (so the value fits a byte), as Java reads it.
    fn octal(&mut self, first: char) -> char {
        let digit = |c: char| c.to_digit(8);
        let mut value = digit(first).unwrap_or(0);
        let max_digits = if first <= '3' { 3 } else { 2 };
        for _ in 1..max_digits {
            match self.chars.peek().copied().and_then(digit) {
                Some(d) => {
                    value = value * 8 + d;
                    self.bump();
                }
                None => break,
            }
        }
        // At most 0o377: always a valid char.
        char::from_u32(value).unwrap_or('\u{fffd}')
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The line of the last token read, for "unexpected end of file" errors.
    last_line: usize,
}

impl Parser<'_> {
    fn next(&mut self) -> Result<Option<Token>, JaasError> {
        let t = self.lexer.next()?;
        if let Some(t) = &t {
            self.last_line = t.line;
        }
        Ok(t)
    }

    /// The next token, which must exist; `what` says what was expected.
    fn expect_any(&mut self, what: &str) -> Result<Token, JaasError> {
        match self.next()? {
            Some(t) => Ok(t),
            None => Err(self.lexer.error(
                self.last_line,
                format!("expected {what}, found the end of the file"),
            )),
        }
    }

    fn unexpected(&self, t: &Token, what: &str) -> JaasError {
        self.lexer
            .error(t.line, format!("expected {what}, found {}", t.tok))
    }

    fn expect_punct(&mut self, p: char) -> Result<(), JaasError> {
        let what = format!("'{p}'");
        let t = self.expect_any(&what)?;
        match t.tok {
            Tok::Punct(c) if c == p => Ok(()),
            _ => Err(self.unexpected(&t, &what)),
        }
    }

    /// A word or a double-quoted string (Java's `match` takes no other token as a class
    /// name, flag, option key or value).
    fn expect_string(&mut self, what: &str) -> Result<(String, usize), JaasError> {
        let t = self.expect_any(what)?;
        match t.tok {
            Tok::Word(s) | Tok::Quoted(s, '"') => Ok((s, t.line)),
            _ => Err(self.unexpected(&t, what)),
        }
    }

    fn config(&mut self) -> Result<Vec<Section>, JaasError> {
        let mut sections: Vec<Section> = Vec::new();
        while let Some(t) = self.next()? {
            // Java takes any token's text as the name; only words and strings have one.
            let name = match t.tok {
                Tok::Word(s) | Tok::Quoted(s, _) => s,
                _ => return Err(self.unexpected(&t, "a section name")),
            };
            self.expect_punct('{')?;
            let modules = self.modules()?;
            self.expect_punct(';')?;
            if sections.iter().any(|s| s.name == name) {
                return Err(self
                    .lexer
                    .error(t.line, format!("section {name:?} appears more than once")));
            }
            sections.push(Section { name, modules });
        }
        Ok(sections)
    }

    /// Login modules up to and including the closing `}`.
    fn modules(&mut self) -> Result<Vec<LoginModule>, JaasError> {
        let mut modules = Vec::new();
        loop {
            let what = "a login module class name or '}'";
            let t = self.expect_any(what)?;
            let (class, line) = match t.tok {
                Tok::Punct('}') => return Ok(modules),
                Tok::Word(s) | Tok::Quoted(s, '"') => (s, t.line),
                _ => return Err(self.unexpected(&t, what)),
            };
            let (flag, flag_line) = self.expect_string("a control flag")?;
            if !CONTROL_FLAGS.iter().any(|f| f.eq_ignore_ascii_case(&flag)) {
                return Err(self.lexer.error(
                    flag_line,
                    format!(
                        "invalid control flag {flag:?} (one of required, requisite, \
                         sufficient, optional)"
                    ),
                ));
            }
            let mut options = Vec::new();
            loop {
                let what = "an option or ';'";
                let t = self.expect_any(what)?;
                let key = match t.tok {
                    Tok::Punct(';') => break,
                    Tok::Word(s) | Tok::Quoted(s, '"') => s,
                    _ => return Err(self.unexpected(&t, what)),
                };
                self.expect_punct('=')?;
                let (value, _) = self.expect_string(&format!("a value for option {key}"))?;
                options.push((key, value));
            }
            modules.push(LoginModule {
                class,
                flag,
                options,
                line,
            });
        }
    }
}

fn parse_from(text: &str, file: Option<PathBuf>) -> Result<JaasConfig, JaasError> {
    // A byte-order mark would otherwise become part of the first section's name (Java
    // reads it as a word character).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser {
        lexer: Lexer {
            chars: text.chars().peekable(),
            line: 1,
            file: file.clone(),
        },
        last_line: 1,
    };
    let sections = parser.config()?;
    Ok(JaasConfig { sections, file })
}

#[cfg(test)]
#[path = "tests/jaas.rs"]
mod tests;
