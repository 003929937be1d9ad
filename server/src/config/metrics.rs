//! `metricsProvider.*`: ZooKeeper's default provider (figures in `mntr` and the
//! AdminServer only) or its Prometheus provider (also `/metrics` over HTTP). Another
//! provider class, or a Prometheus setting ferrokeeper cannot honour (HTTPS), stops
//! start-up; settings that only tune the JVM provider's internals are noted and have no
//! effect.

use std::collections::BTreeMap;

use super::error::{ConfigError, Origin};
use super::model::MetricsProvider;

pub const DEFAULT_PROVIDER: &str = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";
pub const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// Where the Prometheus endpoint listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsEndpoint {
    pub host: String,
    pub port: u16,
}

/// The Prometheus provider's settings that tune its Java worker pool or JVM export:
/// nothing here corresponds to them.
const NO_EFFECT: [&str; 4] = [
    "exportJvmInfo",
    "numWorkerThreads",
    "maxQueueSize",
    "workerShutdownTimeoutMs",
];

/// Checks the provider settings; returns the Prometheus endpoint if one is asked for,
/// and notes for settings with no effect here.
pub fn endpoint(
    provider: &MetricsProvider,
    class_at: Option<&Origin>,
    origins: &BTreeMap<String, Origin>,
) -> Result<(Option<MetricsEndpoint>, Vec<String>), ConfigError> {
    let at = |key: &str| origins.get(key).cloned().unwrap_or(Origin::Default);
    let class = provider.class_name.trim();
    if class == DEFAULT_PROVIDER {
        return Ok((None, Vec::new()));
    }
    if class != PROMETHEUS_PROVIDER {
        return Err(ConfigError::invalid(
            &class_at.cloned().unwrap_or(Origin::Default),
            "metricsProvider.className",
            format!(
                "{class} is not available in ferrokeeper: use {DEFAULT_PROVIDER} (figures in \
                 mntr and the AdminServer) or {PROMETHEUS_PROVIDER} (also /metrics over HTTP)"
            ),
        ));
    }
    let mut notes = Vec::new();
    let mut host = "0.0.0.0".to_owned();
    let mut port = 7000u16;
    for (key, value) in &provider.properties {
        let value = value.trim();
        match key.as_str() {
            "httpHost" => host = value.to_owned(),
            "httpPort" => {
                port = value.parse().map_err(|_| {
                    ConfigError::invalid(
                        &at(key),
                        "metricsProvider.httpPort",
                        format!("{value:?} is not a port number"),
                    )
                })?;
            }
            k if NO_EFFECT.contains(&k) => notes.push(format!(
                "metricsProvider.{k}={value} has no effect in ferrokeeper: it tunes the JVM \
                 provider's worker threads or JVM metrics, which ferrokeeper does not have"
            )),
            _ => {
                // httpsPort and ssl.* (ZooKeeper 3.9's HTTPS endpoint) among them: serving
                // plain HTTP where HTTPS is asked for would fail open.
                return Err(ConfigError::invalid(
                    &at(key),
                    &format!("metricsProvider.{key}"),
                    "is not supported by ferrokeeper's Prometheus endpoint (plain HTTP on \
                     metricsProvider.httpHost and httpPort only)"
                        .to_owned(),
                ));
            }
        }
    }
    Ok((Some(MetricsEndpoint { host, port }), notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(class: &str, props: &[(&str, &str)]) -> MetricsProvider {
        MetricsProvider {
            class_name: class.to_owned(),
            properties: props
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn the_default_provider_serves_no_endpoint() {
        let (e, notes) =
            endpoint(&provider(DEFAULT_PROVIDER, &[]), None, &BTreeMap::new()).expect("default");
        assert_eq!((e, notes.len()), (None, 0));
    }

    #[test]
    fn prometheus_listens_where_configured() {
        let p = provider(
            PROMETHEUS_PROVIDER,
            &[
                ("httpHost", "127.0.0.1"),
                ("httpPort", "7001"),
                ("exportJvmInfo", "false"),
            ],
        );
        let (e, notes) = endpoint(&p, None, &BTreeMap::new()).expect("prometheus");
        assert_eq!(
            e,
            Some(MetricsEndpoint {
                host: "127.0.0.1".into(),
                port: 7001
            })
        );
        assert_eq!(notes.len(), 1, "exportJvmInfo is noted");
        let (e, _) = endpoint(&provider(PROMETHEUS_PROVIDER, &[]), None, &BTreeMap::new())
            .expect("defaults");
        assert_eq!(e.map(|e| (e.host, e.port)), Some(("0.0.0.0".into(), 7000)));
    }

    #[test]
    fn unknown_classes_and_https_are_refused() {
        let e = endpoint(&provider("com.example.Mine", &[]), None, &BTreeMap::new())
            .expect_err("unknown class");
        assert!(e.to_string().contains("metricsProvider.className"), "{e}");
        let e = endpoint(
            &provider(PROMETHEUS_PROVIDER, &[("httpsPort", "7443")]),
            None,
            &BTreeMap::new(),
        )
        .expect_err("https");
        assert!(e.to_string().contains("metricsProvider.httpsPort"), "{e}");
        assert!(
            endpoint(
                &provider(PROMETHEUS_PROVIDER, &[("httpPort", "x")]),
                None,
                &BTreeMap::new()
            )
            .is_err()
        );
    }
}
