//! Prometheus metrics (`METRICS_SECRET`): what Bouncer counts, through small typed calls at
//! the places where outcomes are decided (`ctx.metrics.sign_in(...)`), and the exposition text
//! `/metrics` serves.
//!
//! With metrics off, `Metrics` holds no recorder and every call is a branch on `None`. Labels
//! are `&'static str` from closed sets (outcomes, limiter names, violation types), so no series
//! is ever created from what a client sends.

pub mod names;
mod recorder;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use metrics::{counter, gauge, histogram, Label, Recorder};
use metrics_exporter_prometheus::{PrometheusHandle, PrometheusRecorder};

use crate::error::Error;
use crate::store::users::Provider;

/// What a sign-in attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    Success,
    SecondFactorRequired,
    /// A wrong password or code, an unknown user: the answer the client gets either way.
    InvalidCredentials,
    Banned,
    RateLimited,
    /// Refused by the account's state or the rules (disabled, unverified, a switch off).
    Refused,
    /// The server could not judge it (database, directory, hash queue).
    Error,
}

impl SignInOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::SecondFactorRequired => "second_factor_required",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Banned => "banned",
            Self::RateLimited => "rate_limited",
            Self::Refused => "refused",
            Self::Error => "error",
        }
    }

    /// The outcome a refusal stands for.
    pub fn of_error(error: &Error) -> Self {
        match error {
            Error::InvalidCredentials | Error::Unauthorized(_) | Error::UserNotFound => {
                Self::InvalidCredentials
            }
            Error::Banned { .. } => Self::Banned,
            Error::RateLimited(_) => Self::RateLimited,
            Error::Unavailable(_)
            | Error::Internal(_)
            | Error::Overloaded
            | Error::DirectoryUnavailable => Self::Error,
            _ => Self::Refused,
        }
    }
}

/// What a registration attempt came to. `Accepted` includes an email already taken: the
/// answer is the same, and so is the count (no enumeration through the metrics either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationOutcome {
    Accepted,
    /// Registration is off, or the invitation is not valid.
    Refused,
    /// The fields break the registration rules (or the email domain is not allowed).
    Invalid,
    Banned,
    RateLimited,
    Error,
}

impl RegistrationOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Refused => "refused",
            Self::Invalid => "invalid",
            Self::Banned => "banned",
            Self::RateLimited => "rate_limited",
            Self::Error => "error",
        }
    }

    pub fn of(result: &Result<(), Error>) -> Self {
        match result {
            Ok(()) => Self::Accepted,
            Err(Error::Validation(_) | Error::DomainNotAllowed | Error::BadRequest(_)) => {
                Self::Invalid
            }
            Err(Error::Banned { .. }) => Self::Banned,
            Err(Error::RateLimited(_)) => Self::RateLimited,
            Err(Error::Unavailable(_) | Error::Internal(_) | Error::Overloaded) => Self::Error,
            Err(_) => Self::Refused,
        }
    }
}

/// What became of a mail message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailOutcome {
    /// Put on the background queue, to be sent after the answer.
    Queued,
    /// The background queue was full: never sent.
    Dropped,
    Sent,
    Failed,
}

impl MailOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Dropped => "dropped",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

/// What became of a request to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamOutcome {
    /// It answered, with this status.
    Answered(u16),
    Unavailable,
    Timeout,
}

impl UpstreamOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Answered(status) => match status / 100 {
                1 => "1xx",
                2 => "2xx",
                3 => "3xx",
                4 => "4xx",
                _ => "5xx",
            },
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
        }
    }
}

/// The `method` label of a sign-in through an identity provider.
pub fn provider_method(provider: &Provider) -> &'static str {
    match provider {
        Provider::Local => "password",
        Provider::OpenId => "openid",
        Provider::Social(kind) => kind.name(),
        Provider::Ldap => "ldap",
        Provider::Saml => "saml",
        Provider::Other(_) => "other",
    }
}

/// The readings taken at scrape time: in-memory counts, no database round trip.
pub struct Readings {
    pub bans_active: usize,
    pub password_hash_queue_depth: usize,
    pub database_up: bool,
    pub database_pool_size: u32,
    pub database_pool_idle: usize,
    pub database_pool_max: u32,
    /// `None` without Redis.
    pub redis_up: Option<bool>,
    pub redis_errors: u64,
}

/// This context's metrics: a recorder of its own when `METRICS_SECRET` is set, nothing
/// otherwise. Cheap to clone (services keep one).
#[derive(Clone, Default)]
pub struct Metrics {
    recorder: Option<Arc<PrometheusRecorder>>,
    /// The request families' handles, kept per series: a request then costs two map reads
    /// and two atomic updates, not two registry look-ups of freshly built keys.
    requests: Arc<RequestSeries>,
}

/// Every route template's request series. Bounded by the routing table (plus `gateway` and
/// `unmatched`): the templates are the router's, never a client's path.
#[derive(Default)]
struct RequestSeries {
    routes: RwLock<HashMap<Box<str>, Arc<RouteSeries>>>,
}

struct RouteSeries {
    route: metrics::SharedString,
    durations: RwLock<HashMap<&'static str, metrics::Histogram>>,
    counts: RwLock<HashMap<(&'static str, &'static str), metrics::Counter>>,
}

/// The handle under `key` in `map`, made by `make` the first time.
fn handle<K: std::hash::Hash + Eq + Copy, V: Clone>(
    map: &RwLock<HashMap<K, V>>,
    key: K,
    make: impl FnOnce() -> V,
) -> V {
    if let Some(found) = map.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return found.clone();
    }
    map.write()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key)
        .or_insert_with(make)
        .clone()
}

impl Metrics {
    /// Metrics that record nothing.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// A recorder of its own.
    pub fn enabled() -> Self {
        Self {
            recorder: Some(Arc::new(recorder::build())),
            requests: Arc::default(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.recorder.is_some()
    }

    /// Runs `record` against this context's recorder, if there is one.
    fn record(&self, record: impl FnOnce()) {
        if let Some(recorder) = &self.recorder {
            metrics::with_local_recorder(recorder.as_ref(), record);
        }
    }

    pub fn sign_in(&self, method: &'static str, outcome: SignInOutcome) {
        self.record(|| {
            counter!(names::SIGN_INS, "method" => method, "outcome" => outcome.as_str())
                .increment(1)
        });
    }

    pub fn registration(&self, outcome: RegistrationOutcome) {
        self.record(|| counter!(names::REGISTRATIONS, "outcome" => outcome.as_str()).increment(1));
    }

    pub fn violation(&self, violation_type: &'static str) {
        self.record(|| counter!(names::VIOLATIONS, "type" => violation_type).increment(1));
    }

    pub fn ban_issued(&self, kind: &'static str) {
        self.record(|| counter!(names::BANS_ISSUED, "kind" => kind).increment(1));
    }

    pub fn limiter_refusal(&self, limiter: &'static str) {
        self.record(|| counter!(names::LIMITER_REFUSALS, "limiter" => limiter).increment(1));
    }

    pub fn mail(&self, outcome: MailOutcome) {
        self.record(|| counter!(names::MAIL, "outcome" => outcome.as_str()).increment(1));
    }

    pub fn upstream(&self, outcome: UpstreamOutcome, elapsed: Duration) {
        self.record(|| {
            counter!(names::UPSTREAM_REQUESTS, "outcome" => outcome.as_str()).increment(1);
            histogram!(names::UPSTREAM_REQUEST_DURATION).record(elapsed.as_secs_f64());
            if !matches!(outcome, UpstreamOutcome::Answered(_)) {
                counter!(names::UPSTREAM_ERRORS, "kind" => outcome.as_str()).increment(1);
            }
        });
    }

    /// The handles the password hasher records with from its own threads: the wait of each
    /// job, and the refusals of a full queue. No-ops with metrics off.
    pub fn password_hash(&self) -> (metrics::Histogram, metrics::Counter) {
        match &self.recorder {
            Some(recorder) => metrics::with_local_recorder(recorder.as_ref(), || {
                (
                    histogram!(names::PASSWORD_HASH_WAIT),
                    counter!(names::PASSWORD_HASH_REFUSALS),
                )
            }),
            None => (metrics::Histogram::noop(), metrics::Counter::noop()),
        }
    }

    /// One answered request. `route` is the matched route template (or a fixed word for the
    /// proxy and unmatched paths): bounded by the routing table, never the raw path.
    pub fn request(
        &self,
        route: &str,
        method: &'static str,
        status: &'static str,
        elapsed: Duration,
    ) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        let series = {
            let routes = self
                .requests
                .routes
                .read()
                .unwrap_or_else(|e| e.into_inner());
            routes.get(route).cloned()
        };
        let series = series.unwrap_or_else(|| {
            self.requests
                .routes
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .entry(route.into())
                .or_insert_with(|| {
                    Arc::new(RouteSeries {
                        route: metrics::SharedString::from_owned(route.to_owned()),
                        durations: RwLock::default(),
                        counts: RwLock::default(),
                    })
                })
                .clone()
        });
        let metadata = || metrics::Metadata::new(module_path!(), metrics::Level::INFO, None);
        let labels = |status: Option<&'static str>| {
            let mut labels = vec![
                Label::new("route", series.route.clone()),
                Label::from_static_parts("method", method),
            ];
            labels.extend(status.map(|s| Label::from_static_parts("status", s)));
            labels
        };
        handle(&series.counts, (method, status), || {
            let key = metrics::Key::from_parts(names::HTTP_REQUESTS, labels(Some(status)));
            recorder.register_counter(&key, &metadata())
        })
        .increment(1);
        handle(&series.durations, method, || {
            let key = metrics::Key::from_parts(names::HTTP_REQUEST_DURATION, labels(None));
            recorder.register_histogram(&key, &metadata())
        })
        .record(elapsed.as_secs_f64());
    }

    pub fn sessions_active(&self, count: u64) {
        self.record(|| gauge!(names::SESSIONS_ACTIVE).set(count as f64));
    }

    /// Sets the gauges read at scrape time and renders the exposition text; `None` with
    /// metrics off.
    pub fn render(&self, readings: &Readings) -> Option<String> {
        let recorder = self.recorder.as_ref()?;
        metrics::with_local_recorder(recorder.as_ref(), || {
            gauge!(names::BANS_ACTIVE).set(readings.bans_active as f64);
            gauge!(names::PASSWORD_HASH_QUEUE_DEPTH).set(readings.password_hash_queue_depth as f64);
            gauge!(names::DATABASE_UP).set(f64::from(u8::from(readings.database_up)));
            let in_use =
                (readings.database_pool_size as usize).saturating_sub(readings.database_pool_idle);
            gauge!(names::DATABASE_POOL_CONNECTIONS, "state" => "idle")
                .set(readings.database_pool_idle as f64);
            gauge!(names::DATABASE_POOL_CONNECTIONS, "state" => "in_use").set(in_use as f64);
            gauge!(names::DATABASE_POOL_MAX).set(f64::from(readings.database_pool_max));
            if let Some(up) = readings.redis_up {
                gauge!(names::REDIS_UP).set(f64::from(u8::from(up)));
                counter!(names::REDIS_ERRORS).absolute(readings.redis_errors);
            }
        });
        Some(self.handle()?.render())
    }

    /// Bounds the memory of histograms between scrapes (the exporter's upkeep); called on
    /// the maintenance loop.
    pub fn upkeep(&self) {
        if let Some(handle) = self.handle() {
            handle.run_upkeep();
        }
    }

    fn handle(&self) -> Option<PrometheusHandle> {
        self.recorder.as_ref().map(|r| r.handle())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readings() -> Readings {
        Readings {
            bans_active: 2,
            password_hash_queue_depth: 0,
            database_up: true,
            database_pool_size: 3,
            database_pool_idle: 1,
            database_pool_max: 10,
            redis_up: None,
            redis_errors: 0,
        }
    }

    #[test]
    fn disabled_metrics_render_nothing() {
        let metrics = Metrics::disabled();
        metrics.sign_in("password", SignInOutcome::Success);
        assert!(metrics.render(&readings()).is_none());
    }

    #[test]
    fn two_contexts_count_apart() {
        let a = Metrics::enabled();
        let b = Metrics::enabled();
        a.sign_in("password", SignInOutcome::InvalidCredentials);
        a.sign_in("password", SignInOutcome::InvalidCredentials);
        let text = a.render(&readings()).unwrap();
        assert!(
            text.contains(
                "bouncer_sign_ins_total{method=\"password\",outcome=\"invalid_credentials\"} 2"
            ),
            "{text}"
        );
        let other = b.render(&readings()).unwrap();
        assert!(!other.contains("bouncer_sign_ins_total{"), "{other}");
        assert!(other.contains("bouncer_build_info{version=\""), "{other}");
        assert!(other.contains("bouncer_database_pool_connections{state=\"in_use\"} 2"));
    }

    #[test]
    fn every_family_is_prefixed_and_follows_the_conventions() {
        for family in names::FAMILIES {
            assert!(family.name.starts_with("bouncer_"), "{}", family.name);
            match family.kind {
                names::Kind::Counter => assert!(family.name.ends_with("_total"), "{}", family.name),
                names::Kind::Histogram => {
                    assert!(family.name.ends_with("_seconds"), "{}", family.name)
                }
                names::Kind::Gauge => assert!(!family.name.ends_with("_total"), "{}", family.name),
            }
        }
    }

    #[test]
    fn histograms_have_buckets() {
        let m = Metrics::enabled();
        m.upstream(UpstreamOutcome::Timeout, Duration::from_millis(30));
        let text = m.render(&readings()).unwrap();
        assert!(
            text.contains("bouncer_upstream_request_duration_seconds_bucket{le=\"0.05\"} 1"),
            "{text}"
        );
        assert!(text.contains("bouncer_upstream_errors_total{kind=\"timeout\"} 1"));
        assert!(text.contains("bouncer_upstream_requests_total{outcome=\"timeout\"} 1"));
    }
}
