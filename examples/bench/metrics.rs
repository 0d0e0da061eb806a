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

/// The row: a Bouncer of its own with metrics on, loaded as the token row is; `bare` and
/// `without` are the bare route's and the metrics-off Bouncer's results of the same run.
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
    let base = server.base.clone();
    if !register(client, &base, "metrics@example.com").await {
        bail!("registering the metrics benchmark user failed");
    }
    let (token, _) = login(client, &base, "metrics@example.com").await?;
    let with = load::run(
        AUTH_CONNECTIONS,
        d,
        get_with_token(client, format!("{base}/api/user"), token),
    )
    .await;
    // The requests were counted: the scrape shows the route's counter.
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
    Ok(Row {
        scenario: format!(
            "token-authenticated `GET /api/user` with `METRICS_SECRET` set, {AUTH_CONNECTIONS} connections"
        ),
        bouncer: format!(
            "{} ({:.2} of metrics off: {:.0} req/s)",
            latency(&with),
            with.rate() / without.rate(),
            without.rate()
        ),
        limit: format!("bare HS256 route: {}", latency(bare)),
        ratio: Some(with.rate() / bare.rate()),
        value: with.rate(),
    })
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
    let bare = load::run(
        AUTH_CONNECTIONS,
        d,
        get_with_token(&client, format!("{}/verify", reference.base), token.clone()),
    )
    .await;
    let without = load::run(
        AUTH_CONNECTIONS,
        d,
        get_with_token(&client, format!("{}/api/user", plain.base), token),
    )
    .await;
    drop(plain);
    let with = row(&binary, &client, &bare, &without, d).await?;
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
        with,
    ])
}
