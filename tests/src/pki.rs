//! Certificates and key stores for TLS tests, made with `openssl` and `keytool` (the JDK
//! Debian's ZooKeeper brings) in a temporary directory: a CA, a server certificate for
//! 127.0.0.1/localhost, a client certificate, and a second CA with a client of its own
//! that the server must not trust.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::{on_path, require, run};

/// The password of every store made here.
pub const PASSWORD: &str = "testpass";
/// The client certificate's subject as Java (and so ZooKeeper's x509 ids) prints it.
pub const CLIENT_SUBJECT: &str = "CN=client,O=ferrokeeper tests";

pub struct Pki {
    _dir: tempfile::TempDir,
    pub dir: PathBuf,
}

fn tool(program: &str, args: &[&str], cwd: &Path) {
    let out = run(
        Command::new(program).args(args).current_dir(cwd),
        None,
        program,
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}",
        out.dump()
    );
}

fn openssl(args: &[&str], cwd: &Path) {
    tool("openssl", args, cwd);
}

impl Pki {
    /// Makes everything; skips (or fails under FERROKEEPER_REQUIRE_ALL) without
    /// openssl and keytool.
    pub fn new() -> Pki {
        require(on_path("openssl"), "openssl");
        require(on_path("keytool"), "keytool (a JDK or JRE)");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_owned();
        let pki = Pki {
            _dir: dir,
            dir: path,
        };
        pki.ca("ca", "CN=ferrokeeper test CA");
        pki.ca("other-ca", "CN=somebody else's CA");
        pki.leaf(
            "server",
            "ca",
            "/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth",
        );
        pki.leaf(
            "client",
            "ca",
            "/O=ferrokeeper tests/CN=client",
            "extendedKeyUsage=clientAuth",
        );
        pki.leaf(
            "intruder",
            "other-ca",
            "/CN=intruder",
            "extendedKeyUsage=clientAuth",
        );
        // Quorum peers present their certificate as servers and as clients.
        let peer = "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
                    extendedKeyUsage=serverAuth,clientAuth";
        pki.leaf("peer", "ca", "/CN=localhost", peer);
        pki.leaf("peer-other-ca", "other-ca", "/CN=localhost", peer);
        pki.leaf(
            "peer-elsewhere",
            "ca",
            "/CN=elsewhere.example",
            "subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth,clientAuth",
        );
        // Version 1 certificates (no extensions), as kazoo's test harness makes them.
        pki.leaf("v1client", "ca", "/CN=v1client", "");
        pki.leaf("v1intruder", "other-ca", "/CN=v1intruder", "");
        pki.stores("server", "ca");
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn path_str(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn ca(&self, name: &str, subject: &str) {
        let subj = format!("/{}", subject.replace(',', "/"));
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-subj",
                &subj,
            ],
            &self.dir,
        );
    }

    /// A key and a certificate `name.pem` signed by `ca`, with `extensions` (none: an
    /// X.509 version 1 certificate).
    pub fn leaf(&self, name: &str, ca: &str, subject: &str, extensions: &str) {
        std::fs::write(self.dir.join(format!("{name}.ext")), extensions).expect("ext file");
        let ext_file = format!("{name}.ext");
        let ext_args: &[&str] = if extensions.is_empty() {
            &[]
        } else {
            &["-extfile", &ext_file]
        };
        openssl(
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                subject,
            ],
            &self.dir,
        );
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &format!("{name}.pem"),
            ]
            .iter()
            .chain(ext_args)
            .copied()
            .collect::<Vec<_>>(),
            &self.dir,
        );
    }

    /// A PEM key store (key, certificate, its CA) for the certificate `name`.
    pub fn pem_key_store(&self, name: &str, ca: &str) -> PathBuf {
        let read = |f: String| std::fs::read_to_string(self.dir.join(f)).expect("read");
        let text = [
            read(format!("{name}.key")),
            read(format!("{name}.pem")),
            read(format!("{ca}.pem")),
        ]
        .concat();
        let path = self.dir.join(format!("{name}-keystore.pem"));
        std::fs::write(&path, text).expect("pem key store");
        path
    }

    /// The stores ZooKeeper deployments hand over, for `name`'s key and `ca`:
    /// `name-keystore.{pem,p12,jks}` (key and chain) and `truststore.{pem,p12,jks}`.
    pub fn stores(&self, name: &str, ca: &str) {
        let key = std::fs::read_to_string(self.dir.join(format!("{name}.key"))).expect("key");
        let cert = std::fs::read_to_string(self.dir.join(format!("{name}.pem"))).expect("cert");
        let ca_pem = std::fs::read_to_string(self.dir.join(format!("{ca}.pem"))).expect("ca");
        std::fs::write(
            self.dir.join(format!("{name}-keystore.pem")),
            format!("{key}{cert}{ca_pem}"),
        )
        .expect("pem key store");
        std::fs::write(self.dir.join("truststore.pem"), &ca_pem).expect("pem trust store");
        openssl(
            &[
                "pkcs12",
                "-export",
                "-in",
                &format!("{name}.pem"),
                "-inkey",
                &format!("{name}.key"),
                "-certfile",
                &format!("{ca}.pem"),
                "-name",
                name,
                "-passout",
                &format!("pass:{PASSWORD}"),
                "-out",
                &format!("{name}-keystore.p12"),
            ],
            &self.dir,
        );
        let jks = format!("{name}-keystore.jks");
        let _ = std::fs::remove_file(self.dir.join(&jks));
        tool(
            "keytool",
            &[
                "-importkeystore",
                "-noprompt",
                "-srckeystore",
                &format!("{name}-keystore.p12"),
                "-srcstoretype",
                "PKCS12",
                "-srcstorepass",
                PASSWORD,
                "-destkeystore",
                &jks,
                "-deststoretype",
                "JKS",
                "-deststorepass",
                PASSWORD,
            ],
            &self.dir,
        );
        for (file, kind) in [("truststore.jks", "JKS"), ("truststore.p12", "PKCS12")] {
            let _ = std::fs::remove_file(self.dir.join(file));
            tool(
                "keytool",
                &[
                    "-importcert",
                    "-noprompt",
                    "-alias",
                    "ca",
                    "-file",
                    &format!("{ca}.pem"),
                    "-keystore",
                    file,
                    "-storetype",
                    kind,
                    "-storepass",
                    PASSWORD,
                ],
                &self.dir,
            );
        }
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}
