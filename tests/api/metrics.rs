//! Prometheus metrics at `/metrics` (`METRICS_SECRET`, `METRICS_PORT`): off by default, behind
//! the Bearer secret, on a port of their own, and the counters the outcomes leave behind.
//!
//! Each app has a recorder of its own (never the process-global one), so the values read here
//! are exactly what this test's requests did, whatever the tests running beside it do.

use std::collections::HashSet;

use crate::helpers::*;

const SECRET: &str = "metrics-secret-0123456789abcdef";

fn metrics_on() -> Vec<(&'static str, &'static str)> {
    vec![("METRICS_SECRET", SECRET)]
}

/// A port nobody listens on now (bound and let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn scrape(app: &TestApp) -> String {
    let response = app
        .bare
        .get(app.url("/metrics"))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of the sample `name{labels}` (exactly these labels), if the scrape has it.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: HashSet<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            let found: HashSet<String> = series_labels
                .split(',')
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            (series_name == name && found == wanted).then(|| value.parse().ok())?
        })
}

#[tokio::test]
async fn metrics_are_off_by_default_and_no_metrics_port_is_opened() {
    let port = free_port();
    let app = spawn_app_with(&[("METRICS_PORT", &port.to_string())]).await;
    let response = app.bare.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(!app.ctx.metrics.is_enabled());
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "nothing listens on METRICS_PORT without METRICS_SECRET"
    );
}

#[tokio::test]
async fn the_bearer_secret_is_required() {
    let app = spawn_app_with(&metrics_on()).await;
    let get = || app.bare.get(app.url("/metrics"));

    let missing = get().send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"metrics\""
    );
    assert_eq!(missing.text().await.unwrap(), "");
    let wrong = get()
        .bearer_auth("metrics-secret-0123456789abcdeX")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().contains_key("www-authenticate"));
    let not_bearer = get()
        .header("Authorization", format!("Basic {SECRET}"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_bearer.status(), 401);
    let bare_secret = get().header("Authorization", SECRET).send().await.unwrap();
    assert_eq!(bare_secret.status(), 401);

    let right = get()
        .header("Authorization", format!("bearer {SECRET}"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(right.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = right.text().await.unwrap();
    assert!(text.contains("# TYPE bouncer_build_info gauge"), "{text}");
    assert_eq!(
        sample(
            &text,
            "bouncer_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "bouncer_database_up", &[]), Some(1.0));
    assert_eq!(
        sample(&text, "bouncer_database_pool_max_connections", &[]),
        Some(10.0)
    );
    assert_eq!(sample(&text, "bouncer_bans_active", &[]), Some(0.0));
    assert_eq!(
        sample(&text, "bouncer_password_hash_queue_depth", &[]),
        Some(0.0)
    );
    // Redis's state only where the pass runs with it.
    let redis = sample(&text, "bouncer_redis_up", &[]);
    assert_eq!(redis, app.ctx.config.redis.as_ref().map(|_| 1.0), "{text}");
}

#[tokio::test]
async fn with_metrics_port_metrics_are_served_there_only() {
    let port = free_port();
    let app = spawn_app_with(&[
        ("METRICS_SECRET", SECRET),
        ("METRICS_PORT", &port.to_string()),
    ])
    .await;
    // serve() binds the metrics listener before the main one answers its first request.
    let main = app
        .bare
        .get(app.url("/metrics"))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let refused = app.bare.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let answered = app.bare.get(&url).bearer_auth(SECRET).send().await.unwrap();
    assert_eq!(answered.status(), 200);
    let text = answered.text().await.unwrap();
    assert!(text.contains("bouncer_build_info{"), "{text}");
    // The metrics listener serves nothing else.
    let other = app
        .bare
        .get(format!("http://127.0.0.1:{port}/api/config"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn outcomes_are_counted_with_their_labels() {
    let mut vars = metrics_on();
    vars.extend([
        ("LOGIN_MAX", "2"),
        ("BAN_INTERVAL", "3"),
        ("BAN_DURATION", "1000 * 60 * 10"),
    ]);
    let app = spawn_app_with(&vars).await;
    // A registration and a successful login (from the test's own address).
    let session = app.signed_in_user("ada@example.com").await;
    // An attacker: two wrong passwords, then three refusals by the login limiter, the third
    // of which crosses BAN_INTERVAL and bans the IP; then the ban itself answers.
    let attacker = "203.0.113.9";
    for _ in 0..2 {
        let r = app
            .login_from(attacker, "ada@example.com", "guess guess")
            .await;
        assert_eq!(r.status(), 404);
    }
    for _ in 0..3 {
        let r = app
            .login_from(attacker, "ada@example.com", "guess guess")
            .await;
        assert_eq!(r.status(), 429);
    }
    let banned = app.login_from(attacker, "ada@example.com", PASSWORD).await;
    assert_eq!(banned.status(), 403);
    // A token-authenticated request through forward-auth, and a path no route has.
    let verify = app
        .bare
        .get(app.url("/api/auth/verify"))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap();
    let verify_status = verify.status().as_u16().to_string();
    let unknown = app
        .bare
        .get(app.url("/no/such/place/42"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let text = scrape(&app).await;
    let value = |name: &str, labels: &[(&str, &str)]| sample(&text, name, labels);
    assert_eq!(
        value("bouncer_registrations_total", &[("outcome", "accepted")]),
        Some(1.0)
    );
    let sign_ins = "bouncer_sign_ins_total";
    let password = ("method", "password");
    assert_eq!(
        value(sign_ins, &[password, ("outcome", "success")]),
        Some(1.0)
    );
    assert_eq!(
        value(sign_ins, &[password, ("outcome", "invalid_credentials")]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(sign_ins, &[password, ("outcome", "rate_limited")]),
        Some(3.0)
    );
    assert_eq!(
        value(sign_ins, &[password, ("outcome", "banned")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            "bouncer_limiter_refusals_total",
            &[("limiter", "login_limiter")]
        ),
        Some(3.0)
    );
    assert_eq!(
        value("bouncer_violations_total", &[("type", "logins")]),
        Some(3.0)
    );
    assert_eq!(
        value("bouncer_bans_issued_total", &[("kind", "ip")]),
        Some(1.0)
    );
    assert_eq!(
        value("bouncer_bans_issued_total", &[("kind", "user")]),
        None
    );
    assert_eq!(value("bouncer_bans_active", &[]), Some(1.0));

    // Requests by route template, never the raw path.
    let requests = "bouncer_http_requests_total";
    let login = ("route", "/api/auth/login");
    let post = ("method", "POST");
    assert_eq!(
        value(requests, &[login, post, ("status", "200")]),
        Some(1.0)
    );
    assert_eq!(
        value(requests, &[login, post, ("status", "404")]),
        Some(2.0)
    );
    assert_eq!(
        value(requests, &[login, post, ("status", "429")]),
        Some(3.0)
    );
    assert_eq!(
        value(requests, &[login, post, ("status", "403")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            requests,
            &[
                ("route", "/api/auth/verify"),
                ("method", "GET"),
                ("status", &verify_status)
            ]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            requests,
            &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
        ),
        Some(1.0)
    );
    assert!(
        !text.contains("/no/such/place"),
        "no raw path becomes a label"
    );
    assert_eq!(
        value(
            "bouncer_http_request_duration_seconds_count",
            &[login, post]
        ),
        Some(7.0)
    );
    // The password checks waited for a hashing thread: each wait observed.
    let waits = value("bouncer_password_hash_wait_seconds_count", &[]).unwrap_or(0.0);
    assert!(waits >= 4.0, "{text}");
}

/// Every metric the dashboard queries is one Bouncer exports, and the README documents every
/// family: neither can drift from the code.
#[test]
fn the_dashboard_and_the_readme_name_only_exported_metrics() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/docs/grafana/bouncer-dashboard.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let exported: HashSet<String> = bouncer::metrics::names::series_names().collect();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "{} queries", exprs.len());
    let mut used = HashSet::new();
    for expr in &exprs {
        for name in metric_names(expr) {
            assert!(
                exported.contains(&name),
                "the dashboard queries {name}, not exported: {expr}"
            );
            used.insert(name);
        }
    }
    assert!(
        used.len() >= 15,
        "the dashboard shows most families: {used:?}"
    );
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    for family in bouncer::metrics::names::FAMILIES {
        assert!(
            readme.contains(&format!("`{}`", family.name)),
            "README documents {}",
            family.name
        );
    }
}

fn collect_exprs(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr" | "definition", serde_json::Value::String(expr)) => {
                        into.push(expr.clone())
                    }
                    _ => collect_exprs(v, into),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, into)),
        _ => {}
    }
}

/// The `bouncer_…` identifiers of a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("bouncer_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

#[tokio::test]
async fn the_gateway_counts_proxied_paths_as_one_route_and_the_upstreams_answers() {
    let upstream = crate::upstream_peer::Upstream::start().await;
    let app = spawn_app_with(&[
        ("METRICS_SECRET", SECRET),
        ("UPSTREAM_URL", upstream.url.as_str()),
    ])
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    for path in [
        "/api/convos?page=1",
        "/api/convos/abc123",
        "/api/messages/xyz",
    ] {
        let r = app
            .bare
            .get(app.url(path))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let text = scrape(&app).await;
    let value = |name: &str, labels: &[(&str, &str)]| sample(&text, name, labels);
    assert_eq!(
        value(
            "bouncer_http_requests_total",
            &[("route", "gateway"), ("method", "GET"), ("status", "200")]
        ),
        Some(3.0),
        "{text}"
    );
    assert!(!text.contains("abc123") && !text.contains("/api/convos"));
    assert_eq!(
        value("bouncer_upstream_requests_total", &[("outcome", "2xx")]),
        Some(3.0)
    );
    assert_eq!(
        value("bouncer_upstream_request_duration_seconds_count", &[]),
        Some(3.0)
    );
    assert_eq!(
        value("bouncer_upstream_errors_total", &[("kind", "unavailable")]),
        None
    );
}
