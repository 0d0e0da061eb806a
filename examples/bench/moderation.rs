//! The moderation rows: the gateway with every limiter counting every request, beside the
//! plain proxy of the same run; and resident memory while a flood of distinct client IPs fills
//! the limiter windows (bounded by `MODERATION_MAX_KEYS`).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::load::{self, LoadResult};
use super::processes::{self, Running};
use super::scenarios::{latency, Row, AUTH_CONNECTIONS};
use super::Mode;

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/// Every limiter on, none reached: each request is a chat message (per-IP and per-user
/// message windows, a concurrency slot) on a route of a route limiter (per-IP and per-user
/// windows).
const ALL_LIMITERS: &[(&str, &str)] = &[
    ("MESSAGE_ROUTES", "/verify"),
    ("TTS_ROUTES", "/verify"),
    ("LIMIT_MESSAGE_IP", "true"),
    ("MESSAGE_IP_MAX", "1000000000"),
    ("LIMIT_MESSAGE_USER", "true"),
    ("MESSAGE_USER_MAX", "1000000000"),
    ("LIMIT_CONCURRENT_MESSAGES", "true"),
    ("CONCURRENT_MESSAGE_MAX", "1000000"),
    ("TTS_IP_MAX", "1000000000"),
    ("TTS_USER_MAX", "1000000000"),
];

/// The gateway in front of the reference server with every limiter on, beside the same
/// gateway without them (`plain`, measured in this run).
pub async fn all_limiters_row(
    binary: &Path,
    client: &reqwest::Client,
    upstream: &str,
    token: &str,
    plain: &LoadResult,
    d: Duration,
) -> anyhow::Result<Row> {
    let dir = tempfile::tempdir()?;
    let db = format!("sqlite://{}/bouncer.db", dir.path().display());
    let mut vars = vec![("UPSTREAM_URL", upstream)];
    vars.extend_from_slice(ALL_LIMITERS);
    let proxy =
        processes::start_bouncer_with(binary, dir.path(), &db, processes::free_port(), &vars)
            .await?;
    let limited = load::run(AUTH_CONNECTIONS, d, {
        let client = client.clone();
        let url = format!("{}/verify", proxy.base);
        let token = token.to_string();
        Arc::new(move |_| {
            let request = client
                .post(&url)
                .bearer_auth(&token)
                .header("User-Agent", BROWSER);
            Box::pin(async move { request.send().await.is_ok_and(|r| r.status().is_success()) })
        })
    })
    .await;
    Ok(Row {
        scenario: format!(
            "reverse proxy, every limiter counting each request (message IP and user windows, a \
             concurrency slot, a route limiter's IP and user windows), {AUTH_CONNECTIONS} connections"
        ),
        bouncer: latency(&limited),
        limit: format!("the same proxy without limiters: {}", latency(plain)),
        ratio: Some(limited.rate() / plain.rate()),
        value: if limited.failed == 0 {
            limited.rate()
        } else {
            0.0
        },
    })
}

/// Resident memory while `ips` distinct client IPs each send one request to a limited route
/// (forward-auth of a text-to-speech request: the limiter's per-IP window), with the default
/// `MODERATION_MAX_KEYS`.
pub async fn distinct_ips_row(
    binary: &Path,
    client: &reqwest::Client,
    mode: Mode,
) -> anyhow::Result<Row> {
    let ips: u64 = if mode.name == "quick" {
        20_000
    } else {
        1_000_000
    };
    let dir = tempfile::tempdir()?;
    let db = format!("sqlite://{}/bouncer.db", dir.path().display());
    // One user sends every request: its own window must not be what stops the flood.
    let server = processes::start_bouncer_with(
        binary,
        dir.path(),
        &db,
        processes::free_port(),
        &[
            ("TTS_USER_MAX", "1000000000"),
            ("PASSWORD_HASH_MEMORY_RELEASE", "300"),
        ],
    )
    .await?;
    let base = server.base.clone();
    if !super::scenarios::register(client, &base, "flood@example.com").await {
        anyhow::bail!("registering the flood benchmark user failed");
    }
    let (token, _) = super::scenarios::login(client, &base, "flood@example.com").await?;
    // The sign-in's hash work areas given back first, so only the flood's memory is measured.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let start_mib = server.rss_mib();
    let started = Instant::now();
    let quarter = flood(client, &server, &token, 0, ips / 4).await?;
    let quarter_mib = server.rss_mib();
    let rest = flood(client, &server, &token, ips / 4, ips).await?;
    let end_mib = server.rss_mib();
    let seconds = started.elapsed().as_secs_f64();
    let refused = quarter + rest;
    Ok(Row {
        scenario: format!(
            "resident memory under {ips} distinct client IPs (one limited request each, \
             `MODERATION_MAX_KEYS` 250000)"
        ),
        bouncer: format!(
            "{start_mib:.1} MiB before, {quarter_mib:.1} MiB after {}, {end_mib:.1} MiB after \
             {ips} ({:.0} requests/s, {refused} refused)",
            ips / 4,
            ips as f64 / seconds
        ),
        limit: "—".into(),
        ratio: None,
        value: if refused == 0 { end_mib } else { 0.0 },
    })
}

/// Sends one forward-auth request from each IP numbered `from..to`; returns how many were not
/// answered 200.
async fn flood(
    client: &reqwest::Client,
    server: &Running,
    token: &str,
    from: u64,
    to: u64,
) -> anyhow::Result<u64> {
    let next = Arc::new(AtomicU64::new(from));
    let refused = Arc::new(AtomicU64::new(0));
    let url = format!("{}/api/auth/verify", server.base);
    let tasks: Vec<_> = (0..AUTH_CONNECTIONS)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), token.to_string());
            let (next, refused) = (next.clone(), refused.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= to {
                        break;
                    }
                    // 10.0.0.0/8 holds 16.7 million addresses: one each.
                    let ip = std::net::Ipv4Addr::from(0x0a00_0000u32 + n as u32);
                    let ok = client
                        .get(&url)
                        .bearer_auth(&token)
                        .header("X-Forwarded-For", ip.to_string())
                        .header("X-Forwarded-Method", "GET")
                        .header("X-Forwarded-Uri", "/api/files/speech/tts")
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    if !ok {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    Ok(refused.load(Ordering::Relaxed))
}
