//! Turns the JSON lines that `zkbench` printed during a `bench/run.sh` run into markdown:
//! medians per workload and server, the ratio ferrokeeper/ZooKeeper, every round, and the
//! 1M-znode results (populate rate, RSS, restart-to-first-read).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// The label of the reference server in the JSON lines.
pub const ZOOKEEPER: &str = "zookeeper";
/// The label of the server under test.
pub const FERROKEEPER: &str = "ferrokeeper";

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The median (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        f64::midpoint(sorted[mid - 1], sorted[mid])
    } else {
        sorted[mid]
    })
}

fn fmt_ops(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.0}"))
}

fn fmt_ms(us: Option<f64>) -> String {
    us.map_or_else(|| "–".to_owned(), |us| format!("{:.2}", us / 1000.0))
}

fn fmt_ratio(fk: Option<f64>, zk: Option<f64>) -> String {
    match (fk, zk) {
        (Some(fk), Some(zk)) if zk > 0.0 => format!("{:.2}", fk / zk),
        _ => "–".to_owned(),
    }
}

fn mib(kb: Option<f64>) -> String {
    kb.map_or_else(|| "–".to_owned(), |kb| format!("{:.0} MiB", kb / 1024.0))
}

/// Markdown for all records (one JSON object per line; other lines are ignored).
pub fn markdown(lines: &str) -> String {
    let records: Vec<Value> = lines
        .lines()
        .filter_map(|line| serde_json::from_str(line.trim()).ok())
        .collect();
    let mut out = String::new();
    workload_tables(&records, &mut out);
    million_tables(&records, &mut out);
    scale_tables(&records, &mut out);
    out
}

/// Watch fan-out and many sessions, when they ran.
fn scale_tables(records: &[Value], out: &mut String) {
    let find = |kind: &str, server: &str| {
        records
            .iter()
            .find(|r| text(r, "kind") == kind && text(r, "server") == server)
    };
    let row = |out: &mut String,
               label: &str,
               z: Option<f64>,
               f: Option<f64>,
               fmt: &dyn Fn(Option<f64>) -> String| {
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} |",
            fmt(z),
            fmt(f),
            fmt_ratio(f, z)
        );
    };
    let count = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.0}"));
    let secs = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.2} s"));
    let (fz, ff) = (find("fanout", ZOOKEEPER), find("fanout", FERROKEEPER));
    if fz.is_some() || ff.is_some() {
        let field = |r: Option<&Value>, key: &str| r.and_then(|r| num(r, key));
        let watchers = field(ff.or(fz), "watchers").unwrap_or(0.0);
        let changes = field(ff.or(fz), "changes").unwrap_or(0.0);
        let _ = writeln!(
            out,
            "### Watch fan-out: {watchers:.0} watchers, {changes:.0} changes\n\n\
             Latency from just before the setData is sent to each watcher's notification.\n\n\
             | | ZooKeeper | ferrokeeper | ratio fk/zk |\n|---|---:|---:|---:|"
        );
        row(
            out,
            "notifications received",
            field(fz, "notifications"),
            field(ff, "notifications"),
            &count,
        );
        row(
            out,
            "notification p50 ms",
            field(fz, "p50_us"),
            field(ff, "p50_us"),
            &fmt_ms,
        );
        row(
            out,
            "notification p99 ms",
            field(fz, "p99_us"),
            field(ff, "p99_us"),
            &fmt_ms,
        );
        row(
            out,
            "notification max ms",
            field(fz, "max_us"),
            field(ff, "max_us"),
            &fmt_ms,
        );
        row(
            out,
            "watchers connected and armed in",
            field(fz, "setup_s"),
            field(ff, "setup_s"),
            &secs,
        );
        out.push('\n');
    }
    let (sz, sf) = (find("sessions", ZOOKEEPER), find("sessions", FERROKEEPER));
    if sz.is_some() || sf.is_some() {
        let field = |r: Option<&Value>, key: &str| r.and_then(|r| num(r, key));
        let wanted = field(sf.or(sz), "count").unwrap_or(0.0);
        let _ = writeln!(
            out,
            "### {wanted:.0} sessions on one server, each with a watch, held with pings\n\n\
             | | ZooKeeper | ferrokeeper | ratio fk/zk |\n|---|---:|---:|---:|"
        );
        row(
            out,
            "sessions opened",
            field(sz, "opened"),
            field(sf, "opened"),
            &count,
        );
        let rate = |r: Option<&Value>| Some(field(r, "opened")? / field(r, "connect_s")?.max(1e-9));
        row(out, "connects/s", rate(sz), rate(sf), &count);
        row(
            out,
            "sessions answering after the hold",
            field(sz, "alive"),
            field(sf, "alive"),
            &count,
        );
        let per_session = |r: Option<&Value>| {
            let grown = field(r, "rss_after_kb")? - field(r, "rss_before_kb")?;
            Some(grown * 1024.0 / field(r, "opened")?.max(1.0))
        };
        let bytes = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.0} B"));
        row(
            out,
            "RSS growth per session",
            per_session(sz),
            per_session(sf),
            &bytes,
        );
        for (label, r) in [("ZooKeeper", sz), ("ferrokeeper", sf)] {
            if let Some(e) = r.and_then(|r| r.get("first_error")).and_then(Value::as_str) {
                let _ = writeln!(out, "\n{label}'s first failure: {e}");
            }
        }
        out.push('\n');
    }
}

fn workload_tables(records: &[Value], out: &mut String) {
    let runs: Vec<&Value> = records
        .iter()
        .filter(|r| text(r, "kind") == "run")
        .collect();
    if runs.is_empty() {
        return;
    }
    // workload -> server -> [record]
    let mut by: BTreeMap<(usize, String), BTreeMap<String, Vec<&Value>>> = BTreeMap::new();
    let order = |w: &str| match w {
        "create" => 0,
        "set" => 1,
        "get" => 2,
        _ => 3,
    };
    for run in &runs {
        let workload = text(run, "workload").to_owned();
        by.entry((order(&workload), workload))
            .or_default()
            .entry(text(run, "server").to_owned())
            .or_default()
            .push(run);
    }
    let first = runs[0];
    let _ = writeln!(
        out,
        "### Throughput and latency (median of rounds)\n\n\
         {} sessions × {} in flight, {} s measured after {} s warm-up per run. \
         Ratios are ferrokeeper/ZooKeeper: above 1 means ferrokeeper did more ops/s; \
         below 1 means ferrokeeper's latency was lower.\n",
        num(first, "sessions").unwrap_or(0.0),
        num(first, "inflight").unwrap_or(0.0),
        num(first, "duration_s").unwrap_or(0.0),
        num(first, "warmup_s").unwrap_or(0.0),
    );
    let _ = writeln!(
        out,
        "| workload | server | rounds | ops/s (median) | ops/s min–max | p50 ms | p99 ms | p99.9 ms | errors |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for ((_, workload), servers) in &by {
        let mut medians: BTreeMap<&str, [Option<f64>; 3]> = BTreeMap::new();
        for server in [ZOOKEEPER, FERROKEEPER] {
            let Some(list) = servers.get(server) else {
                continue;
            };
            let col = |key: &str| list.iter().filter_map(|r| num(r, key)).collect::<Vec<_>>();
            let ops = col("ops_per_s");
            let (lo, hi) = ops
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
            let errors: f64 = col("errors").iter().sum();
            let m = [median(&ops), median(&col("p50_us")), median(&col("p99_us"))];
            medians.insert(server, m);
            let _ = writeln!(
                out,
                "| {workload} | {server} | {} | {} | {:.0}–{:.0} | {} | {} | {} | {errors:.0} |",
                list.len(),
                fmt_ops(m[0]),
                lo,
                hi,
                fmt_ms(m[1]),
                fmt_ms(m[2]),
                fmt_ms(median(&col("p999_us"))),
            );
        }
        let zk = medians.get(ZOOKEEPER).copied().unwrap_or_default();
        let fk = medians.get(FERROKEEPER).copied().unwrap_or_default();
        ratios.push(format!(
            "| {workload} | {} | {} | {} |",
            fmt_ratio(fk[0], zk[0]),
            fmt_ratio(fk[1], zk[1]),
            fmt_ratio(fk[2], zk[2]),
        ));
    }
    let _ = writeln!(
        out,
        "\n### Ratio ferrokeeper / ZooKeeper (of the medians)\n\n\
         | workload | ops/s | p50 | p99 |\n|---|---:|---:|---:|"
    );
    for line in ratios {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "\n### Every run (in the order run)\n\n\
         | round | workload | server | ops/s | p50 ms | p99 ms | p99.9 ms | max ms | errors |\n\
         |---:|---|---|---:|---:|---:|---:|---:|---:|"
    );
    for run in &runs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            num(run, "round").unwrap_or(0.0),
            text(run, "workload"),
            text(run, "server"),
            fmt_ops(num(run, "ops_per_s")),
            fmt_ms(num(run, "p50_us")),
            fmt_ms(num(run, "p99_us")),
            fmt_ms(num(run, "p999_us")),
            fmt_ms(num(run, "max_us")),
            num(run, "errors").unwrap_or(0.0),
        );
    }
    out.push('\n');
}

fn million_tables(records: &[Value], out: &mut String) {
    let find = |kind: &str, server: &str, phase: Option<&str>| {
        records.iter().find(|r| {
            text(r, "kind") == kind
                && text(r, "server") == server
                && phase.is_none_or(|p| text(r, "phase") == p)
        })
    };
    if !records
        .iter()
        .any(|r| matches!(text(r, "kind"), "populate" | "rss" | "probe"))
    {
        return;
    }
    let count = records
        .iter()
        .find(|r| text(r, "kind") == "populate")
        .and_then(|r| num(r, "count"))
        .unwrap_or(0.0);
    let _ = writeln!(
        out,
        "### {count:.0} znodes: populate, memory, restart\n\n\
         | | ZooKeeper | ferrokeeper | ratio fk/zk |\n|---|---:|---:|---:|"
    );
    let pz = find("populate", ZOOKEEPER, None);
    let pf = find("populate", FERROKEEPER, None);
    let rate = |p: Option<&Value>| p.and_then(|p| num(p, "ops_per_s"));
    let _ = writeln!(
        out,
        "| populate creates/s | {} | {} | {} |",
        fmt_ops(rate(pz)),
        fmt_ops(rate(pf)),
        fmt_ratio(rate(pf), rate(pz))
    );
    let secs = |p: Option<&Value>| {
        p.and_then(|p| num(p, "seconds"))
            .map_or_else(|| "–".to_owned(), |s| format!("{s:.1} s"))
    };
    let _ = writeln!(out, "| populate time | {} | {} | |", secs(pz), secs(pf));
    let errors = |p: Option<&Value>| {
        p.and_then(|p| num(p, "errors"))
            .map_or_else(|| "–".to_owned(), |e| format!("{e:.0}"))
    };
    let _ = writeln!(
        out,
        "| populate errors | {} | {} | |",
        errors(pz),
        errors(pf)
    );
    for (phase, label) in [
        ("populated", "RSS with the znodes (VmRSS)"),
        ("populated", "peak RSS so far (VmHWM)"),
        ("restarted", "RSS after restart + first read (VmRSS)"),
        ("restarted", "peak RSS of the restarted server (VmHWM)"),
    ] {
        let key = if label.contains("VmHWM") {
            "vmhwm_kb"
        } else {
            "vmrss_kb"
        };
        let z = find("rss", ZOOKEEPER, Some(phase)).and_then(|r| num(r, key));
        let f = find("rss", FERROKEEPER, Some(phase)).and_then(|r| num(r, key));
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} |",
            mib(z),
            mib(f),
            fmt_ratio(f, z)
        );
    }
    let stop = |server: &str| {
        find("probe", server, Some("restart"))
            .and_then(|r| num(r, "shutdown_ms"))
            .map_or_else(|| "–".to_owned(), |ms| format!("{:.2} s", ms / 1000.0))
    };
    let _ = writeln!(
        out,
        "| SIGTERM to exit | {} | {} | |",
        stop(ZOOKEEPER),
        stop(FERROKEEPER)
    );
    let restart = |server: &str| -> (String, Option<f64>) {
        let Some(probe) = find("probe", server, Some("restart")) else {
            return ("not run".to_owned(), None);
        };
        let first = num(probe, "first_response_ms");
        match text(probe, "outcome") {
            "read" => {
                let ms = num(probe, "read_ms");
                (
                    ms.map_or_else(|| "–".to_owned(), |ms| format!("{:.2} s", ms / 1000.0)),
                    ms,
                )
            }
            "missing" => (
                format!(
                    "**data not durable yet**: served after {}, the known znode was gone",
                    first.map_or_else(|| "–".to_owned(), |ms| format!("{:.2} s", ms / 1000.0))
                ),
                None,
            ),
            other => (format!("no successful read ({other})"), None),
        }
    };
    let (zt, zms) = restart(ZOOKEEPER);
    let (ft, fms) = restart(FERROKEEPER);
    let _ = writeln!(
        out,
        "| restart to first successful read of a known znode | {zt} | {ft} | {} |",
        fmt_ratio(fms, zms)
    );
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fan_out_and_sessions_tables_show_both_servers_and_ratios() {
        let lines = r#"
{"kind":"fanout","server":"zookeeper","watchers":1000,"changes":20,"notifications":20000,"setup_s":2.0,"p50_us":4000,"p99_us":9000,"max_us":12000}
{"kind":"fanout","server":"ferrokeeper","watchers":1000,"changes":20,"notifications":20000,"setup_s":1.0,"p50_us":1000,"p99_us":3000,"max_us":5000}
{"kind":"sessions","server":"zookeeper","count":100,"opened":100,"connect_s":2.0,"alive":100,"rss_before_kb":1000,"rss_after_kb":2000,"first_error":null}
{"kind":"sessions","server":"ferrokeeper","count":100,"opened":100,"connect_s":0.5,"alive":99,"rss_before_kb":1000,"rss_after_kb":1100,"first_error":"held session: request timed out"}
"#;
        let md = markdown(lines);
        assert!(
            md.contains("### Watch fan-out: 1000 watchers, 20 changes"),
            "{md}"
        );
        assert!(
            md.contains("| notification p50 ms | 4.00 | 1.00 | 0.25 |"),
            "{md}"
        );
        assert!(md.contains("| connects/s | 50 | 200 | 4.00 |"), "{md}");
        assert!(
            md.contains("| sessions answering after the hold | 100 | 99 | 0.99 |"),
            "{md}"
        );
        assert!(
            md.contains("| RSS growth per session | 10240 B | 1024 B | 0.10 |"),
            "{md}"
        );
        assert!(
            md.contains("ferrokeeper's first failure: held session: request timed out"),
            "{md}"
        );
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn report_shows_ratio_and_missing_data() {
        let lines = r#"
{"kind":"run","server":"zookeeper","round":1,"workload":"create","sessions":4,"inflight":16,"duration_s":10,"warmup_s":2,"ops_per_s":1000,"p50_us":2000,"p99_us":4000,"p999_us":5000,"max_us":6000,"errors":0}
{"kind":"run","server":"ferrokeeper","round":1,"workload":"create","sessions":4,"inflight":16,"duration_s":10,"warmup_s":2,"ops_per_s":2000,"p50_us":1000,"p99_us":2000,"p999_us":3000,"max_us":4000,"errors":0}
{"kind":"probe","server":"zookeeper","phase":"restart","outcome":"read","read_ms":7000,"first_response_ms":7000}
{"kind":"probe","server":"ferrokeeper","phase":"restart","outcome":"missing","first_response_ms":20}
"#;
        let md = markdown(lines);
        assert!(md.contains("| create | 2.00 | 0.50 | 0.50 |"), "{md}");
        assert!(md.contains("data not durable yet"), "{md}");
        assert!(md.contains("7.00 s"), "{md}");
    }
}
