//! zkCli's `reconfig`: `[-s] [-v version] [[-file path] | [-members list]] | [-add list]
//! [-remove ids]`, with zkCli's checks (incremental and non-incremental options do not
//! mix; the version is hex) and its output (`Committed new configuration:` and the new
//! configuration, then the stat with `-s`).

use std::fmt::Write as _;

/// A parsed `reconfig` command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReconfigArgs {
    pub stat: bool,
    pub version: Option<i64>,
    pub joining: Option<String>,
    pub leaving: Option<String>,
    pub members: Option<String>,
}

/// Parses the arguments after `reconfig`; `Err` is what zkCli prints.
pub fn parse(args: &[String], usage: &str) -> Result<ReconfigArgs, String> {
    let mut parsed = ReconfigArgs::default();
    let mut file = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("Missing argument for option: {name}"))
        };
        match arg.as_str() {
            "-s" => parsed.stat = true,
            "-v" => {
                let v = value("v")?;
                parsed.version = Some(i64::from_str_radix(&v, 16).map_err(|_| {
                    "-v must be followed by a long (configuration version)".to_owned()
                })?);
            }
            // zkCli lower-cases the server lists.
            "-add" => parsed.joining = Some(value("add")?.to_lowercase()),
            "-remove" => parsed.leaving = Some(value("remove")?.to_lowercase()),
            "-members" => parsed.members = Some(value("members")?.to_lowercase()),
            "-file" => file = Some(value("file")?),
            _ => return Err(usage.to_owned()),
        }
    }
    let whole = file.is_some() || parsed.members.is_some();
    let incremental = parsed.joining.is_some() || parsed.leaving.is_some();
    if !whole && !incremental {
        return Err(usage.to_owned());
    }
    if whole && incremental {
        return Err(
            "Can't use -file or -members together with -add or -remove (mixing \
                    incremental and non-incremental modes is not allowed)"
                .to_owned(),
        );
    }
    if let Some(path) = file {
        if parsed.members.is_some() {
            return Err(
                "Can't use -file and -members together (conflicting non-incremental modes)"
                    .to_owned(),
            );
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("Error processing {path}{e}"))?;
        // The file's server lines (zkCli re-renders them; the server reads them as is).
        let mut members = String::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with("server.") {
                let _ = writeln!(members, "{line}");
            }
        }
        parsed.members = Some(members.trim_end().to_owned());
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_as_zkcli_reads_them() {
        let p = parse(&args("-s -v 1a -add server.4=H:1:2;3 -remove 2"), "usage").expect("ok");
        assert_eq!(
            p,
            ReconfigArgs {
                stat: true,
                version: Some(0x1a),
                joining: Some("server.4=h:1:2;3".into()),
                leaving: Some("2".into()),
                members: None,
            }
        );
        assert_eq!(parse(&args("-s"), "usage"), Err("usage".into()));
        assert!(
            parse(&args("-add x -members y"), "usage")
                .err()
                .is_some_and(|e| e.contains("mixing"))
        );
        assert!(
            parse(&args("-v zz -remove 1"), "usage")
                .err()
                .is_some_and(|e| e.starts_with("-v must be"))
        );
    }
}
