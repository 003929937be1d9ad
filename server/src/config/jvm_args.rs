//! ZooKeeper is started as `java $JVMFLAGS QuorumPeerMain zoo.cfg`, so scripts written
//! for it pass JVM options. We take the `-Dname=value` system properties, which carry
//! real settings, and drop JVM-only options (heap, GC, classpath) before clap sees the
//! arguments, so such a command line works unchanged.

use super::error::Origin;

/// A `-Dname=value` found on the command line or in an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysPropArg {
    pub name: String,
    pub value: String,
    pub origin: Origin,
}

/// The result of pre-filtering: arguments for clap, properties, and notes for the log.
#[derive(Debug, Default)]
pub struct Filtered {
    pub args: Vec<String>,
    pub props: Vec<SysPropArg>,
    /// Debug-level notes about ignored JVM options.
    pub ignored: Vec<String>,
}

/// Environment variables read by ZooKeeper's `zkServer.sh`, in the order it joins them
/// (`JVMFLAGS="$SERVER_JVMFLAGS $JVMFLAGS"`): a later `-D` wins, as in Java.
pub const ENV_VARS: [&str; 2] = ["SERVER_JVMFLAGS", "JVMFLAGS"];

/// Main classes a `java` command line names; accepted so the tail of such a line
/// (`... QuorumPeerMain zoo.cfg`) can be passed as is.
const MAIN_CLASSES: [&str; 2] = [
    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
    "org.apache.zookeeper.server.ZooKeeperServerMain",
];

/// JVM options that consume the following argument.
const WITH_OPERAND: [&str; 8] = [
    "-cp",
    "-classpath",
    "--class-path",
    "--module-path",
    "--add-opens",
    "--add-exports",
    "--add-modules",
    "--add-reads",
];

/// Single-token JVM options (exact names or prefixes).
fn is_jvm_only(arg: &str) -> bool {
    const EXACT: [&str; 9] = [
        "-server",
        "-client",
        "-ea",
        "-da",
        "-esa",
        "-dsa",
        "-showversion",
        "-verbose",
        "-Xint",
    ];
    const PREFIXES: [&str; 11] = [
        "-X",
        "-ea:",
        "-da:",
        "-enableassertions",
        "-disableassertions",
        "-verbose:",
        "-javaagent:",
        "-agentlib:",
        "-agentpath:",
        "--add-opens=",
        "--add-exports=",
    ];
    EXACT.contains(&arg) || PREFIXES.iter().any(|p| arg.starts_with(p))
}

fn parse_define(arg: &str, origin: &Origin) -> Option<SysPropArg> {
    let body = arg.strip_prefix("-D")?;
    // `-Dname` without a value sets the property to "" in Java.
    let (name, value) = body.split_once('=').unwrap_or((body, ""));
    Some(SysPropArg {
        name: name.to_owned(),
        value: value.to_owned(),
        origin: origin.clone(),
    })
}

/// Filters a token stream. `keep_rest` decides what happens to ordinary arguments:
/// kept for clap (command line) or reported as ignored (environment variables).
fn filter(
    tokens: impl IntoIterator<Item = String>,
    origin: &Origin,
    keep_rest: bool,
    out: &mut Filtered,
) {
    let mut tokens = tokens.into_iter();
    let mut after_double_dash = false;
    while let Some(tok) = tokens.next() {
        if after_double_dash {
            out.args.push(tok);
            continue;
        }
        if tok == "--" {
            after_double_dash = true;
            if keep_rest {
                out.args.push(tok);
            }
            continue;
        }
        if let Some(prop) = parse_define(&tok, origin) {
            out.props.push(prop);
        } else if WITH_OPERAND.contains(&tok.as_str()) {
            let operand = tokens.next().unwrap_or_default();
            out.ignored
                .push(format!("{origin}: ignoring JVM option {tok} {operand}"));
        } else if is_jvm_only(&tok) || MAIN_CLASSES.contains(&tok.as_str()) {
            out.ignored
                .push(format!("{origin}: ignoring JVM option {tok}"));
        } else if keep_rest {
            out.args.push(tok);
        } else {
            out.ignored
                .push(format!("{origin}: ignoring non-JVM word {tok:?}"));
        }
    }
}

/// Splits the command line (without argv\[0\]) and the JVM-flag environment variables.
/// Properties come out in precedence order: `SERVER_JVMFLAGS`, `JVMFLAGS`, then the
/// command line, so inserting them in order lets the last one win.
pub fn prefilter(
    args: impl IntoIterator<Item = String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Filtered {
    let mut out = Filtered::default();
    for var in ENV_VARS {
        if let Some(flags) = env(var) {
            // The shell splits the unquoted `$JVMFLAGS` on whitespace; so do we.
            let words = flags.split_whitespace().map(str::to_owned);
            filter(words, &Origin::Env(var.to_owned()), false, &mut out);
        }
    }
    filter(args, &Origin::CommandLine, true, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_defines_jvm_flags_and_args() {
        let args = strings(&[
            "-Xmx512m",
            "-XX:+UseG1GC",
            "-server",
            "-cp",
            "/usr/share/java/zookeeper.jar",
            "-Djute.maxbuffer=4194304",
            "-Dreadonlymode.enabled",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            "--client-port",
            "2182",
            "zoo.cfg",
        ]);
        let f = prefilter(args, &|_| None);
        assert_eq!(f.args, strings(&["--client-port", "2182", "zoo.cfg"]));
        assert_eq!(f.props.len(), 2);
        assert_eq!(f.props[0].name, "jute.maxbuffer");
        assert_eq!(f.props[0].value, "4194304");
        assert_eq!(f.props[1].name, "readonlymode.enabled");
        assert_eq!(f.props[1].value, "");
        assert_eq!(f.ignored.len(), 5);
        assert!(
            f.ignored
                .iter()
                .any(|m| m.contains("-cp /usr/share/java/zookeeper.jar"))
        );
    }

    #[test]
    fn environment_order_and_origin() {
        let env = |v: &str| match v {
            "SERVER_JVMFLAGS" => Some("-Xmx1g -Da=server  -Db=server stray".to_owned()),
            "JVMFLAGS" => Some("-Da=jvm".to_owned()),
            _ => None,
        };
        let f = prefilter(strings(&["-Da=cli"]), &env);
        let a: Vec<_> = f.props.iter().filter(|p| p.name == "a").collect();
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].origin, Origin::Env("SERVER_JVMFLAGS".into()));
        assert_eq!(a[1].origin, Origin::Env("JVMFLAGS".into()));
        assert_eq!(a[2].origin, Origin::CommandLine);
        assert!(f.args.is_empty(), "words in env never reach clap");
        assert!(f.ignored.iter().any(|m| m.contains("stray")));
    }

    #[test]
    fn nothing_after_double_dash_is_touched() {
        let f = prefilter(strings(&["--", "-Dx=1"]), &|_| None);
        assert_eq!(f.args, strings(&["--", "-Dx=1"]));
        assert!(f.props.is_empty());
    }
}
