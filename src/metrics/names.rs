//! Every metric family Bouncer exports, named once. The README's "Metrics" table and the
//! Grafana dashboard (`docs/grafana/bouncer-dashboard.json`, checked by a test) use these
//! names; a family is added here, described in `FAMILIES`, and recorded through `Metrics`.

/// Requests answered, by route template, method and status.
pub const HTTP_REQUESTS: &str = "bouncer_http_requests_total";
/// Time from a request's arrival to its answer's head, by route template and method.
pub const HTTP_REQUEST_DURATION: &str = "bouncer_http_request_duration_seconds";
/// Sign-in attempts, by method and outcome.
pub const SIGN_INS: &str = "bouncer_sign_ins_total";
/// Registration attempts, by outcome.
pub const REGISTRATIONS: &str = "bouncer_registrations_total";
/// Violations scored, by type.
pub const VIOLATIONS: &str = "bouncer_violations_total";
/// Bans made (automatic or by an operator), by kind (`user`, `ip`).
pub const BANS_ISSUED: &str = "bouncer_bans_issued_total";
/// Bans in force now (this instance's in-memory list).
pub const BANS_ACTIVE: &str = "bouncer_bans_active";
/// Requests refused by a limiter, by limiter.
pub const LIMITER_REFUSALS: &str = "bouncer_limiter_refusals_total";
/// Login sessions not past their expiry (counted on the maintenance loop).
pub const SESSIONS_ACTIVE: &str = "bouncer_sessions_active";
/// Password checks waiting for a hashing thread now.
pub const PASSWORD_HASH_QUEUE_DEPTH: &str = "bouncer_password_hash_queue_depth";
/// Time a password check waited for a hashing thread.
pub const PASSWORD_HASH_WAIT: &str = "bouncer_password_hash_wait_seconds";
/// Password checks refused at once because the queue was full (503 with `Retry-After`).
pub const PASSWORD_HASH_REFUSALS: &str = "bouncer_password_hash_refusals_total";
/// Mail, by outcome: `queued`, `dropped` (queue full), `sent`, `failed`.
pub const MAIL: &str = "bouncer_mail_messages_total";
/// Requests sent to the upstream (`UPSTREAM_URL`), by outcome: the status class of its
/// answer, or `unavailable` / `timeout`.
pub const UPSTREAM_REQUESTS: &str = "bouncer_upstream_requests_total";
/// Time until the upstream's answer head (or its failure).
pub const UPSTREAM_REQUEST_DURATION: &str = "bouncer_upstream_request_duration_seconds";
/// Upstream requests that got no answer, by kind (`unavailable`, `timeout`).
pub const UPSTREAM_ERRORS: &str = "bouncer_upstream_errors_total";
/// 1 while the database answers (its availability probe), else 0.
pub const DATABASE_UP: &str = "bouncer_database_up";
/// Database pool connections, by state (`idle`, `in_use`).
pub const DATABASE_POOL_CONNECTIONS: &str = "bouncer_database_pool_connections";
/// The pool's size limit (`DATABASE_MAX_CONNECTIONS`).
pub const DATABASE_POOL_MAX: &str = "bouncer_database_pool_max_connections";
/// 1 while Redis answers a ping (only with `USE_REDIS`), else 0.
pub const REDIS_UP: &str = "bouncer_redis_up";
/// Calls to the moderation state store (Redis) that failed since start (limiters fail open).
pub const REDIS_ERRORS: &str = "bouncer_redis_errors_total";
/// Always 1, labelled with the running version.
pub const BUILD_INFO: &str = "bouncer_build_info";

/// The kind of a family, as Prometheus says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One family: its name, kind, label names and the help text the exposition carries.
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

/// Every family, in the README's order.
pub const FAMILIES: &[Family] = &[
    family(
        HTTP_REQUESTS,
        Kind::Counter,
        &["route", "method", "status"],
        "Requests answered, by route template, method and status.",
    ),
    family(
        HTTP_REQUEST_DURATION,
        Kind::Histogram,
        &["route", "method"],
        "Time from a request's arrival to its answer's head.",
    ),
    family(
        SIGN_INS,
        Kind::Counter,
        &["method", "outcome"],
        "Sign-in attempts, by method and outcome.",
    ),
    family(
        REGISTRATIONS,
        Kind::Counter,
        &["outcome"],
        "Registration attempts, by outcome.",
    ),
    family(
        VIOLATIONS,
        Kind::Counter,
        &["type"],
        "Violations scored, by type.",
    ),
    family(
        BANS_ISSUED,
        Kind::Counter,
        &["kind"],
        "Bans made, automatic or by an operator, by kind.",
    ),
    family(BANS_ACTIVE, Kind::Gauge, &[], "Bans in force now."),
    family(
        LIMITER_REFUSALS,
        Kind::Counter,
        &["limiter"],
        "Requests refused by a limiter.",
    ),
    family(
        SESSIONS_ACTIVE,
        Kind::Gauge,
        &[],
        "Login sessions not past their expiry.",
    ),
    family(
        PASSWORD_HASH_QUEUE_DEPTH,
        Kind::Gauge,
        &[],
        "Password checks waiting for a hashing thread.",
    ),
    family(
        PASSWORD_HASH_WAIT,
        Kind::Histogram,
        &[],
        "Time a password check waited for a hashing thread.",
    ),
    family(
        PASSWORD_HASH_REFUSALS,
        Kind::Counter,
        &[],
        "Password checks refused because the hash queue was full.",
    ),
    family(
        MAIL,
        Kind::Counter,
        &["outcome"],
        "Mail messages, by outcome.",
    ),
    family(
        UPSTREAM_REQUESTS,
        Kind::Counter,
        &["outcome"],
        "Requests sent to the upstream, by outcome.",
    ),
    family(
        UPSTREAM_REQUEST_DURATION,
        Kind::Histogram,
        &[],
        "Time until the upstream's answer head.",
    ),
    family(
        UPSTREAM_ERRORS,
        Kind::Counter,
        &["kind"],
        "Upstream requests that got no answer.",
    ),
    family(
        DATABASE_UP,
        Kind::Gauge,
        &[],
        "Whether the database answers.",
    ),
    family(
        DATABASE_POOL_CONNECTIONS,
        Kind::Gauge,
        &["state"],
        "Database pool connections, by state.",
    ),
    family(
        DATABASE_POOL_MAX,
        Kind::Gauge,
        &[],
        "The database pool's size limit.",
    ),
    family(REDIS_UP, Kind::Gauge, &[], "Whether Redis answers a ping."),
    family(
        REDIS_ERRORS,
        Kind::Counter,
        &[],
        "Failed calls to the moderation state store.",
    ),
    family(
        BUILD_INFO,
        Kind::Gauge,
        &["version"],
        "Always 1, labelled with the running version.",
    ),
];

const fn family(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Family {
    Family {
        name,
        kind,
        labels,
        help,
    }
}

/// The series names a scrape can carry for a family: a histogram's `_bucket`, `_sum` and
/// `_count`, the family name otherwise.
pub fn series_names() -> impl Iterator<Item = String> {
    FAMILIES.iter().flat_map(|f| match f.kind {
        Kind::Histogram => vec![
            format!("{}_bucket", f.name),
            format!("{}_sum", f.name),
            format!("{}_count", f.name),
        ],
        _ => vec![f.name.to_string()],
    })
}
