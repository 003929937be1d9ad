//! `/metrics` in the Prometheus text format, with ZooKeeper's names and types: its
//! gauges as gauges, its counters as counters (without the `_total` suffix ZooKeeper's
//! simpleclient 0.9 does not add either, so dashboards' queries keep working), its
//! summaries as summaries with the quantiles its provider exports, then ferrokeeper's
//! own `ferrokeeper_` gauges. The `prometheus` crate does the encoding.

use std::collections::BTreeMap;

use prometheus::proto::{
    Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType, Quantile, Summary,
};
use prometheus::{Encoder, TextEncoder};

use crate::metrics::{ADVANCED_QUANTILES, BASIC_QUANTILES};
use crate::net::monitor::{self, Report};

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_owned());
    f.set_help(help.to_owned());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}

fn gauge_metric(value: f64, labels: &[(&'static str, String)]) -> Metric {
    let mut g = Gauge::default();
    g.set_value(value);
    let mut m = Metric::default();
    m.set_gauge(g);
    m.set_label(
        labels
            .iter()
            .map(|(k, v)| {
                let mut l = LabelPair::default();
                l.set_name((*k).to_owned());
                l.set_value(v.clone());
                l
            })
            .collect(),
    );
    m
}

/// Families for every gauge of `gauges`, those sharing a name (labelled per member)
/// in one family.
fn gauge_families(gauges: &[monitor::Gauge]) -> Vec<MetricFamily> {
    let mut by_name: BTreeMap<&str, (&str, Vec<Metric>)> = BTreeMap::new();
    let mut order = Vec::new();
    for g in gauges {
        let Some(value) = g.value.as_f64() else {
            continue;
        };
        let entry = by_name.entry(g.name).or_insert_with(|| {
            order.push(g.name);
            (g.help, Vec::new())
        });
        entry.1.push(gauge_metric(value, &g.labels));
    }
    order
        .into_iter()
        .filter_map(|name| {
            let (help, metrics) = by_name.remove(name)?;
            Some(family(name, help, MetricType::GAUGE, metrics))
        })
        .collect()
}

pub fn families(report: &Report) -> Vec<MetricFamily> {
    let mut out = gauge_families(&report.gauges);
    for (name, value) in &report.counters {
        let mut c = Counter::default();
        c.set_value(*value as f64);
        let mut m = Metric::default();
        m.set_counter(c);
        out.push(family(name, name, MetricType::COUNTER, vec![m]));
    }
    for (name, summary) in &report.summaries {
        let quantiles: &[f64] = if summary.is_advanced() {
            &ADVANCED_QUANTILES
        } else {
            &BASIC_QUANTILES
        };
        let values = summary.values();
        let mut s = Summary::default();
        s.set_sample_count(values.count);
        s.set_sample_sum(values.sum as f64);
        s.set_quantile(
            quantiles
                .iter()
                .map(|q| {
                    let mut quantile = Quantile::default();
                    quantile.set_quantile(*q);
                    quantile.set_value(summary.quantile(*q) as f64);
                    quantile
                })
                .collect(),
        );
        let mut m = Metric::default();
        m.set_summary(s);
        out.push(family(name, name, MetricType::SUMMARY, vec![m]));
    }
    out.extend(gauge_families(&report.own));
    out
}

/// The exposition text and its content type.
pub fn render(report: &Report) -> Result<(String, String), prometheus::Error> {
    let encoder = TextEncoder::new();
    let mut buf = Vec::new();
    encoder.encode(&families(report), &mut buf)?;
    Ok((
        String::from_utf8_lossy(&buf).into_owned(),
        encoder.format_type().to_owned(),
    ))
}
