//! The Prometheus recorder of one `AppContext`: histogram buckets, help texts, build info.
//!
//! Each context has its own recorder (never the process-global one), so two servers in one
//! process (the integration tests run many) count apart, and a test reads exactly what its
//! own requests did. Call sites reach it through `Metrics`, never through the global facade.

use metrics::Recorder;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

use super::names::{self, Kind, FAMILIES};

/// Latency buckets in seconds: from half a millisecond (a token check) to a minute (a slow
/// upstream), roughly ×2.5 apart.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

pub fn build() -> PrometheusRecorder {
    let recorder = PrometheusBuilder::new()
        // Real histograms (`_bucket` series), which Grafana's histogram_quantile reads, not the
        // exporter's default summaries.
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .expect("the buckets are not empty")
        .build_recorder();
    for family in FAMILIES {
        let name = metrics::KeyName::from_const_str(family.name);
        let help = metrics::SharedString::const_str(family.help);
        match family.kind {
            Kind::Counter => recorder.describe_counter(name, None, help),
            Kind::Gauge => recorder.describe_gauge(name, None, help),
            Kind::Histogram => recorder.describe_histogram(name, None, help),
        }
    }
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    });
    recorder
}
