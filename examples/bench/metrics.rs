//! The price of Prometheus metrics: the token-authenticated `GET /api/user` on a Bouncer started
//! with `METRICS_SECRET` (every request counted and timed), against the bare HS256 route and
//! against the same GET on a Bouncer without metrics, all in the same run.
//!
//!     cargo run --release --example bench -- --metrics    # just these rows, 10 s each

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};

use super::load::{self, LoadResult, Op};
use super::processes;
use super::scenarios::{latency, login, register, Row, AUTH_CONNECTIONS};

const METRICS_SECRET: &str = "bench-metrics-secret-0123456789";

fn get_with_token(client: &reqwest::Client, url: String, token: String) -> Op {
    let client = client.clone();
    Arc::new(move |_| {
        let request = client.get(&url).bearer_auth(&token);
        Box::pin(async move { request.send().await.is_ok_and(|r| r.status().is_success()) })
    })
}

/// The row of the full benchmark: a Bouncer of its own with metrics on, loaded as the token
/// row is; `bare` and `without` are the bare route's and the metrics-off Bouncer's results of
/// the same run.
pub async fn row(
    binary: &Path,
    client: &reqwest::Client,
    bare: &LoadResult,
    without: &LoadResult,
    d: Duration,
) -> anyhow::Result<Row> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/bouncer.db", dir.path().display());
    let server = processes::start_bouncer_with(
        binary,
        dir.path(),
        &url,
        processes::free_port(),
        &[("METRICS_SECRET", METRICS_SECRET)],
    )
    .await?;
    if !register(client, &server.base, "metrics@example.com").await {
        bail!("registering the metrics benchmark user failed");
    }
    let (token, _) = login(client, &server.base, "metrics@example.com").await?;
    let with = load::run(
        AUTH_CONNECTIONS,
        d,
        get_with_token(client, format!("{}/api/user", server.base), token),
    )
    .await;
    counted(client, &server.base).await?;
    Ok(metrics_row(&with, without, bare))
}

/// `--metrics`: the bare route, the token GET without metrics and with them, in one run.
pub async fn rows(mode: super::Mode) -> anyhow::Result<Vec<Row>> {
    let d = mode.duration;
    let binary = processes::bouncer_binary()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/bouncer.db", dir.path().display());
    let plain = processes::start_bouncer(&binary, dir.path(), &url, processes::free_port()).await?;
    if !register(&client, &plain.base, "bench@example.com").await {
        bail!("registering the benchmark user failed");
    }
    let (token, _) = login(&client, &plain.base, "bench@example.com").await?;
    let reference = processes::start_reference(processes::free_port()).await?;
    // A Bouncer with metrics on beside it, loaded in turns with the others: on a shared
    // machine, a burst of someone else's work then falls on every contestant alike.
    let on_dir = tempfile::tempdir()?;
    let on_url = format!("sqlite://{}/bouncer.db", on_dir.path().display());
    let on = processes::start_bouncer_with(
        &binary,
        on_dir.path(),
        &on_url,
        processes::free_port(),
        &[("METRICS_SECRET", METRICS_SECRET)],
    )
    .await?;
    if !register(&client, &on.base, "metrics@example.com").await {
        bail!("registering the metrics benchmark user failed");
    }
    let (on_token, _) = login(&client, &on.base, "metrics@example.com").await?;
    let (mut bare, mut without, mut with) = (Vec::new(), Vec::new(), Vec::new());
    let slice = d / ROUNDS;
    for _ in 0..ROUNDS {
        bare.push(
            load::run(
                AUTH_CONNECTIONS,
                slice,
                get_with_token(&client, format!("{}/verify", reference.base), token.clone()),
            )
            .await,
        );
        without.push(
            load::run(
                AUTH_CONNECTIONS,
                slice,
                get_with_token(&client, format!("{}/api/user", plain.base), token.clone()),
            )
            .await,
        );
        with.push(
            load::run(
                AUTH_CONNECTIONS,
                slice,
                get_with_token(&client, format!("{}/api/user", on.base), on_token.clone()),
            )
            .await,
        );
    }
    let (bare, without, with) = (merged(bare), merged(without), merged(with));
    counted(&client, &on.base).await?;
    drop(on);
    drop(plain);
    Ok(vec![
        Row {
            scenario: format!(
                "token-authenticated `GET /api/user`, {AUTH_CONNECTIONS} connections"
            ),
            bouncer: latency(&without),
            limit: format!("bare HS256 route: {}", latency(&bare)),
            ratio: Some(without.rate() / bare.rate()),
            value: without.rate(),
        },
        metrics_row(&with, &without, &bare),
    ])
}

/// How many turns each contestant gets in `--metrics`.
const ROUNDS: u32 = 5;

/// The results of several turns as one.
fn merged(results: Vec<LoadResult>) -> LoadResult {
    let mut all = LoadResult {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for r in results {
        all.ok += r.ok;
        all.failed += r.failed;
        all.elapsed += r.elapsed;
        all.latencies_us.extend(r.latencies_us);
    }
    all.latencies_us.sort_unstable();
    all
}

/// The requests were counted: the scrape shows the route's counter.
async fn counted(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let scrape = client
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_SECRET)
        .send()
        .await?
        .text()
        .await?;
    scrape
        .lines()
        .find(|l| l.starts_with("bouncer_http_requests_total{") && l.contains("/api/user"))
        .context("the metrics Bouncer did not count its requests")?;
    Ok(())
}

fn metrics_row(with: &LoadResult, without: &LoadResult, bare: &LoadResult) -> Row {
    Row {
        scenario: format!(
            "token-authenticated `GET /api/user` with `METRICS_SECRET` set, {AUTH_CONNECTIONS} connections"
        ),
        bouncer: format!(
            "{} ({:.2} of metrics off: {:.0} req/s)",
            latency(with),
            with.rate() / without.rate(),
            without.rate()
        ),
        limit: format!("bare HS256 route: {}", latency(bare)),
        ratio: Some(with.rate() / bare.rate()),
        value: with.rate(),
    }
}
