//! The scenarios, each paired with its limit measured in the same run, and the report.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::load::{self, LoadResult, Op};
use super::memory;
use super::processes::{self, Running};
use super::Mode;

const PASSWORD: &str = "benchmark passphrase";
pub const AUTH_CONNECTIONS: usize = 64;
const REFRESH_SESSIONS: usize = 16;
/// The responsiveness probe sends one request this often (it must not add load of its own).
const PROBE_EVERY: Duration = Duration::from_millis(10);

pub struct Row {
    pub scenario: String,
    pub bouncer: String,
    pub limit: String,
    pub ratio: Option<f64>,
    /// The headline number; the quick mode checks it exists.
    pub value: f64,
}

pub struct Report {
    mode: &'static str,
    machine: String,
    rows: Vec<Row>,
}

impl Report {
    /// Every scenario produced a positive, finite number.
    pub fn complete(&self) -> bool {
        !self.rows.is_empty()
            && self
                .rows
                .iter()
                .all(|r| r.value.is_finite() && r.value > 0.0)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Bouncer benchmark ({} mode) on {}",
            self.mode, self.machine
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "| scenario | Bouncer | limit measured in the same run | ratio |"
        )?;
        writeln!(f, "|---|---|---|---|")?;
        for r in &self.rows {
            let ratio = r.ratio.map_or("—".to_string(), |x| format!("{x:.2}"));
            writeln!(
                f,
                "| {} | {} | {} | {} |",
                r.scenario, r.bouncer, r.limit, ratio
            )?;
        }
        Ok(())
    }
}

/// A report of `rows` (for the modes that run only some scenarios).
pub fn report(mode: Mode, rows: Vec<Row>) -> Report {
    Report {
        mode: mode.name,
        machine: machine(),
        rows,
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {cpu}")
}

pub fn latency(r: &LoadResult) -> String {
    format!(
        "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        r.rate(),
        r.quantile_ms(0.5),
        r.quantile_ms(0.99)
    )
}

pub async fn login(
    client: &reqwest::Client,
    base: &str,
    email: &str,
) -> anyhow::Result<(String, String)> {
    let r = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("login of {email}: {}", r.status());
    }
    let cookie = refresh_cookie(r.headers()).context("no refresh cookie")?;
    let body: Value = r.json().await?;
    let token = body["token"].as_str().context("no token")?.to_string();
    Ok((token, cookie))
}

fn refresh_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("refreshToken="))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
}

/// A client as a browser on the sign-in pages: it does not follow the 303 after a form.
fn page_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

/// The sign-in form's CSRF cookie and token, read from the page once.
async fn sign_in_form(client: &reqwest::Client, base: &str) -> anyhow::Result<(String, String)> {
    let page = client.get(format!("{base}/ui/login")).send().await?;
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("bouncer_session_csrf="))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
        .context("no CSRF cookie on the sign-in page")?;
    let html = page.text().await?;
    let at = html
        .find("name=\"csrf\" value=\"")
        .context("no CSRF field")?
        + 19;
    let token = html[at..].split('"').next().unwrap_or_default().to_string();
    Ok((cookie, token))
}

/// One sign-in on the pages: the form posted as a browser posts it; success is the 303 with
/// the single-sign-on cookie.
fn page_login_op(client: &reqwest::Client, base: &str, csrf: &(String, String)) -> Op {
    let (client, url) = (client.clone(), format!("{base}/ui/login"));
    let (cookie, token) = csrf.clone();
    Arc::new(move |_| {
        let request = client.post(&url).header("Cookie", &cookie).form(&[
            ("csrf", token.as_str()),
            ("email", "bench@example.com"),
            ("password", PASSWORD),
        ]);
        Box::pin(async move {
            request.send().await.is_ok_and(|r| {
                r.status() == reqwest::StatusCode::SEE_OTHER
                    && r.headers()
                        .get_all("set-cookie")
                        .iter()
                        .any(|c| c.as_bytes().starts_with(b"bouncer_session="))
            })
        })
    })
}

/// A real single-sign-on cookie for the benchmark user, from a sign-in on the pages.
pub async fn browser_cookie(base: &str) -> anyhow::Result<String> {
    let client = page_client();
    let (csrf_cookie, token) = sign_in_form(&client, base).await?;
    let answer = client
        .post(format!("{base}/ui/login"))
        .header("Cookie", &csrf_cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("email", "bench@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("bouncer_session="))
        .and_then(|c| c.split(';').next())
        .and_then(|c| c.strip_prefix("bouncer_session="))
        .map(str::to_string)
        .context("no single-sign-on cookie after signing in on the pages")
}

pub async fn register(client: &reqwest::Client, base: &str, email: &str) -> bool {
    client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({
            "name": "Bench User", "email": email, "password": PASSWORD, "confirm_password": PASSWORD
        }))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// Makes an API key for the benchmark user through the API.
async fn api_key(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let answer = client
        .post(format!("{base}/api/bouncer/account/api-keys"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "name": "bench" }))
        .send()
        .await?;
    if answer.status() != reqwest::StatusCode::CREATED {
        anyhow::bail!("making an API key answered {}", answer.status());
    }
    let body: serde_json::Value = answer.json().await?;
    body["key"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("the API key's answer has no key"))
}

fn get_with_token(client: &reqwest::Client, url: String, token: String) -> Op {
    let client = client.clone();
    Arc::new(move |_| {
        let request = client.get(&url).bearer_auth(&token);
        Box::pin(async move { request.send().await.is_ok_and(|r| r.status().is_success()) })
    })
}

/// Runs `load` while sampling the process's resident memory; returns the result and the peak.
async fn with_peak_rss(
    process: &Running,
    load: impl std::future::Future<Output = LoadResult>,
) -> (LoadResult, f64) {
    let pid_rss = || process.rss_mib();
    let peak = Arc::new(Mutex::new(pid_rss()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pid = process.pid();
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let rss = rss_of(pid);
                if let Ok(mut p) = peak.lock() {
                    *p = p.max(rss);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let result = load.await;
    done.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let peak = *peak.lock().unwrap();
    (result, peak)
}

fn rss_of(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Time of one argon2id hash at Bouncer's parameters, in this process: the median of a few.
async fn hash_ms(samples: usize) -> anyhow::Result<f64> {
    let hasher = bouncer::accounts::PasswordHasher::new(1);
    hasher.hash("warm-up".into()).await?;
    let mut times = Vec::new();
    for i in 0..samples {
        let t = Instant::now();
        hasher.hash(format!("sample {i}")).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

pub async fn run_all(mode: Mode) -> anyhow::Result<Report> {
    let d = mode.duration;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let binary = processes::bouncer_binary()?;
    let dir = tempfile::tempdir()?;
    let port = processes::free_port();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let mut rows = Vec::new();

    // Start-up: the first start creates the database; the one measured finds it in place.
    let sqlite_url = format!("sqlite://{}/bouncer.db", dir.path().display());
    drop(processes::start_bouncer(&binary, dir.path(), &sqlite_url, port).await?);
    let server = processes::start_bouncer(&binary, dir.path(), &sqlite_url, port).await?;
    let startup_ms = server.ready_after.as_secs_f64() * 1000.0;
    let idle_rss = server.rss_mib();
    let base = server.base.clone();

    if !register(&client, &base, "bench@example.com").await {
        bail!("registering the benchmark user failed");
    }
    let (token, _) = login(&client, &base, "bench@example.com").await?;

    // Token-authenticated requests against the bare-JWT reference.
    let reference = processes::start_reference(processes::free_port()).await?;
    let bare = load::run(
        AUTH_CONNECTIONS,
        d,
        get_with_token(&client, format!("{}/verify", reference.base), token.clone()),
    )
    .await;
    let (auth, loaded_rss) = with_peak_rss(
        &server,
        load::run(
            AUTH_CONNECTIONS,
            d,
            get_with_token(&client, format!("{base}/api/user"), token.clone()),
        ),
    )
    .await;
    rows.push(Row {
        scenario: format!("token-authenticated `GET /api/user`, {AUTH_CONNECTIONS} connections"),
        bouncer: latency(&auth),
        limit: format!("bare HS256 route: {}", latency(&bare)),
        ratio: Some(auth.rate() / bare.rate()),
        value: auth.rate(),
    });
    // The same GET with metrics on (a Bouncer of its own), against the same bare route.
    rows.push(super::metrics::row(&binary, &client, &bare, &auth, d).await?);

    // The gateway: the forward-auth check, and the reverse proxy in front of the bare server
    // (which checks the token again), against that server reached directly.
    let forward_auth = load::run(AUTH_CONNECTIONS, d, {
        // As Traefik and Caddy send it (the default FORWARD_AUTH_HEADERS family).
        let client = client.clone();
        let url = format!("{base}/api/auth/verify");
        let token = token.clone();
        Arc::new(move |_| {
            let request = client
                .get(&url)
                .bearer_auth(&token)
                .header("X-Forwarded-Method", "GET")
                .header("X-Forwarded-Uri", "/api/convos");
            Box::pin(async move { request.send().await.is_ok_and(|r| r.status().is_success()) })
        })
    })
    .await;
    rows.push(Row {
        scenario: format!("forward-auth `GET /api/auth/verify`, {AUTH_CONNECTIONS} connections"),
        bouncer: latency(&forward_auth),
        limit: format!("bare HS256 route: {}", latency(&bare)),
        ratio: Some(forward_auth.rate() / bare.rate()),
        value: forward_auth.rate(),
    });
    // Forward-auth with an API key (`bnc_…`) instead of the access token: the key is checked in
    // the in-memory index (a SHA-256 and a constant-time compare) and counted in its own
    // limiter, opened wide here. Its limit is the token's row just above; a build without API
    // keys (`BOUNCER_BENCH_BINARY` naming an older one) has no such row.
    match api_key(&client, &base, &token).await {
        Ok(key) => {
            let by_key = load::run(AUTH_CONNECTIONS, d, {
                let client = client.clone();
                let url = format!("{base}/api/auth/verify");
                Arc::new(move |_| {
                    let request = client
                        .get(&url)
                        .bearer_auth(&key)
                        .header("X-Forwarded-Method", "GET")
                        .header("X-Forwarded-Uri", "/api/convos");
                    Box::pin(
                        async move { request.send().await.is_ok_and(|r| r.status().is_success()) },
                    )
                })
            })
            .await;
            rows.push(Row {
                scenario: format!(
                    "forward-auth by API key `GET /api/auth/verify`, {AUTH_CONNECTIONS} connections"
                ),
                bouncer: latency(&by_key),
                limit: format!(
                    "the same with the access token: {} ({:.2} of the bare HS256 route)",
                    latency(&forward_auth),
                    by_key.rate() / bare.rate()
                ),
                ratio: Some(by_key.rate() / forward_auth.rate()),
                value: if by_key.failed == 0 {
                    by_key.rate()
                } else {
                    0.0
                },
            });
        }
        Err(e) => eprintln!("bench: {e}; the forward-auth-by-API-key row is left out"),
    }
    // Forward-auth by the sign-in pages' single-sign-on cookie, as a browser behind Traefik
    // or Caddy sends it: the same route, the cookie instead of the Bearer token.
    // A build without the pages (`BOUNCER_BENCH_BINARY` naming an older one) has no such row.
    match browser_cookie(&base).await {
        Ok(cookie) => {
            let by_cookie = load::run(AUTH_CONNECTIONS, d, {
                let client = client.clone();
                let url = format!("{base}/api/auth/verify");
                let cookie = format!("bouncer_session={cookie}");
                Arc::new(move |_| {
                    let request = client
                        .get(&url)
                        .header("Cookie", &cookie)
                        .header("Accept", "text/html")
                        .header("X-Forwarded-Method", "GET")
                        .header("X-Forwarded-Proto", "https")
                        .header("X-Forwarded-Host", "localhost")
                        .header("X-Forwarded-Uri", "/api/convos");
                    Box::pin(
                        async move { request.send().await.is_ok_and(|r| r.status().is_success()) },
                    )
                })
            })
            .await;
            rows.push(Row {
            scenario: format!(
                "forward-auth by single-sign-on cookie `GET /api/auth/verify`, {AUTH_CONNECTIONS} connections"
            ),
            bouncer: latency(&by_cookie),
            limit: format!("bare HS256 route: {}", latency(&bare)),
            ratio: Some(by_cookie.rate() / bare.rate()),
            // A run where every answer was a redirect (no session) has no number.
            value: if by_cookie.failed == 0 {
                by_cookie.rate()
            } else {
                0.0
            },
        });
        }
        Err(e) => eprintln!("bench: {e}; the forward-auth-by-cookie row is left out"),
    }
    // The OpenID provider: code flows, refresh grants, forward-auth by provider token.
    match super::provider::rows(&binary, &bare, cores, d).await {
        Ok(provider_rows) => rows.extend(provider_rows),
        Err(e) => eprintln!("bench: {e:#}; the OpenID provider rows are left out"),
    }
    // LDAP sign-ins against a local slapd.
    match super::ldap::rows(&binary, cores, d).await {
        Ok(ldap_rows) => rows.extend(ldap_rows),
        Err(e) => eprintln!("bench: {e:#}; the LDAP row is left out"),
    }
    // Importing LibreChat's users (100,000 in full mode, 2,000 in quick mode).
    rows.extend(super::migration::rows(&binary, mode).await?);
    let proxy_dir = tempfile::tempdir()?;
    let proxy_db = format!("sqlite://{}/bouncer.db", proxy_dir.path().display());
    let proxy = processes::start_bouncer_with(
        &binary,
        proxy_dir.path(),
        &proxy_db,
        processes::free_port(),
        &[("UPSTREAM_URL", reference.base.as_str())],
    )
    .await?;
    let proxied = load::run(
        AUTH_CONNECTIONS,
        d,
        get_with_token(&client, format!("{}/verify", proxy.base), token.clone()),
    )
    .await;
    drop(proxy);
    let all_limiters =
        super::moderation::all_limiters_row(&binary, &client, &reference.base, &token, &proxied, d)
            .await?;
    // nginx's proxy_pass to the same upstream, in the same run: the proxy's reference.
    let nginx = super::nginx::start(&reference.base, processes::free_port()).await?;
    let by_nginx = match &nginx {
        Some(nginx) => Some(
            load::run(
                AUTH_CONNECTIONS,
                d,
                get_with_token(&client, format!("{}/verify", nginx.base), token.clone()),
            )
            .await,
        ),
        None => None,
    };
    drop(nginx);
    drop(reference);
    rows.push(Row {
        scenario: format!("reverse proxy to the bare route, {AUTH_CONNECTIONS} connections"),
        bouncer: format!(
            "{}; adds p50 {:.2} ms",
            latency(&proxied),
            proxied.quantile_ms(0.5) - bare.quantile_ms(0.5)
        ),
        limit: format!("the bare route directly: {}", latency(&bare)),
        ratio: Some(proxied.rate() / bare.rate()),
        value: proxied.rate(),
    });
    match by_nginx {
        Some(by_nginx) => rows.push(Row {
            scenario: format!(
                "gateway vs nginx `proxy_pass` (upstream keep-alive) to the same upstream, {AUTH_CONNECTIONS} connections"
            ),
            bouncer: format!(
                "{} (also verifies the token and checks bans)",
                latency(&proxied)
            ),
            limit: format!(
                "nginx: {}; adds p50 {:.2} ms",
                latency(&by_nginx),
                by_nginx.quantile_ms(0.5) - bare.quantile_ms(0.5)
            ),
            ratio: Some(proxied.rate() / by_nginx.rate()),
            value: proxied.rate(),
        }),
        None => eprintln!("bench: nginx is not installed; the proxy's nginx row is left out"),
    }
    rows.push(all_limiters);
    // Chat messages with content moderation against a local stand-in, and without it.
    match super::content::rows(&binary, &client, &token, d).await {
        Ok(content_rows) => rows.extend(content_rows),
        Err(e) => eprintln!("bench: {e:#}; the content moderation row is left out"),
    }

    // Password hashing limit, then logins saturating the hash workers while one connection
    // keeps asking for the user (the runtime must not starve).
    let per_hash = hash_ms(if mode.name == "quick" { 3 } else { 9 }).await?;
    let hash_limit = cores as f64 * 1000.0 / per_hash;
    let login_op = login_op(&client, &base);
    let (logins, probe) = tokio::join!(
        load::run(2 * cores, d, login_op),
        load::paced(
            PROBE_EVERY,
            d,
            get_with_token(&client, format!("{base}/api/user"), token.clone())
        ),
    );
    rows.push(Row {
        scenario: format!("password login, {} connections, SQLite", 2 * cores),
        bouncer: format!(
            "{:.1} logins/s (p99 {:.0} ms)",
            logins.rate(),
            logins.quantile_ms(0.99)
        ),
        limit: format!("{cores} cores ÷ {per_hash:.1} ms per argon2id hash = {hash_limit:.1}/s"),
        ratio: Some(logins.rate() / hash_limit),
        value: logins.rate(),
    });
    rows.push(Row {
        scenario: "`GET /api/user` while logins saturate the hash workers".into(),
        bouncer: format!(
            "p50 {:.2} ms, p99 {:.2} ms",
            probe.quantile_ms(0.5),
            probe.quantile_ms(0.99)
        ),
        limit: format!("unloaded p99 {:.2} ms (above)", auth.quantile_ms(0.99)),
        ratio: None,
        value: probe.quantile_ms(0.99),
    });

    // Sign-ins on the pages: the same hash work, plus the form, the CSRF check, the page and
    // the browser session.
    let page_client = page_client();
    match sign_in_form(&page_client, &base).await {
        Ok(csrf) => {
            let page_logins =
                load::run(2 * cores, d, page_login_op(&page_client, &base, &csrf)).await;
            rows.push(Row {
                scenario: format!(
                    "sign-in on the pages `POST /ui/login`, {} connections, SQLite",
                    2 * cores
                ),
                bouncer: format!(
                    "{:.1} sign-ins/s (p99 {:.0} ms)",
                    page_logins.rate(),
                    page_logins.quantile_ms(0.99)
                ),
                limit: format!("hash limit {hash_limit:.1}/s"),
                ratio: Some(page_logins.rate() / hash_limit),
                value: if page_logins.failed == 0 {
                    page_logins.rate()
                } else {
                    0.0
                },
            });
        }
        Err(e) => eprintln!("bench: {e}; the sign-in-on-the-pages row is left out"),
    }

    // Registrations.
    let counter = Arc::new(AtomicU64::new(0));
    let register_op: Op = {
        let (client, base, counter) = (client.clone(), base.clone(), counter.clone());
        Arc::new(move |_| {
            let (client, base) = (client.clone(), base.clone());
            let n = counter.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move { register(&client, &base, &format!("user{n}@example.com")).await })
        })
    };
    let registrations = load::run(2 * cores, d, register_op).await;
    rows.push(Row {
        scenario: format!("registration, {} connections", 2 * cores),
        bouncer: format!("{:.1} registrations/s", registrations.rate()),
        limit: format!("hash limit {hash_limit:.1}/s"),
        ratio: Some(registrations.rate() / hash_limit),
        value: registrations.rate(),
    });

    let refreshes = refresh_load(&client, &base, d).await?;
    rows.push(refresh_row("SQLite", &refreshes));

    if let Ok(admin_url) = std::env::var("BOUNCER_BENCH_POSTGRES_URL") {
        rows.extend(postgres_rows(&binary, &client, &admin_url, cores, d, hash_limit).await?);
    }

    rows.push(Row {
        scenario: "resident memory".into(),
        bouncer: format!(
            "{idle_rss:.1} MiB idle, {loaded_rss:.1} MiB peak under the authenticated load"
        ),
        limit: "—".into(),
        ratio: None,
        value: idle_rss,
    });
    rows.push(super::moderation::distinct_ips_row(&binary, &client, mode).await?);
    let memory = memory::profile(&binary, &client, 2 * cores, 8 * cores).await?;
    rows.push(Row {
        scenario: format!(
            "resident memory of a fresh server around {} logins",
            memory.logins
        ),
        bouncer: format!(
            "{:.1} MiB at start, {:.1} MiB right after the logins, {:.1} MiB after a {} s quiet spell",
            memory.start_mib,
            memory.after_burst_mib,
            memory.after_quiet_mib,
            memory::QUIET_SPELL.as_secs()
        ),
        limit: "—".into(),
        ratio: None,
        value: memory.after_quiet_mib,
    });
    rows.push(Row {
        scenario: "start-up with an existing database".into(),
        bouncer: format!("{startup_ms:.0} ms from exec to the first 200 on `/healthz`"),
        limit: "—".into(),
        ratio: None,
        value: startup_ms,
    });
    drop(server);
    Ok(Report {
        mode: mode.name,
        machine: machine(),
        rows,
    })
}

/// Each of `REFRESH_SESSIONS` connections rotates its own session as fast as it can.
async fn refresh_load(
    client: &reqwest::Client,
    base: &str,
    d: Duration,
) -> anyhow::Result<LoadResult> {
    let mut cookies = Vec::new();
    for _ in 0..REFRESH_SESSIONS {
        cookies.push(Mutex::new(
            login(client, base, "bench@example.com").await?.1,
        ));
    }
    let cookies = Arc::new(cookies);
    let refresh_op: Op = {
        let (client, url) = (client.clone(), format!("{base}/api/auth/refresh"));
        Arc::new(move |worker| {
            let cookies = cookies.clone();
            let current = cookies[worker]
                .lock()
                .map(|c| c.clone())
                .unwrap_or_default();
            let request = client
                .post(&url)
                .header("cookie", format!("refreshToken={current}"));
            Box::pin(async move {
                let Ok(r) = request.send().await else {
                    return false;
                };
                match (r.status().is_success(), refresh_cookie(r.headers())) {
                    (true, Some(next)) => {
                        if let Ok(mut c) = cookies[worker].lock() {
                            *c = next;
                        }
                        true
                    }
                    _ => false,
                }
            })
        })
    };
    Ok(load::run(REFRESH_SESSIONS, d, refresh_op).await)
}

fn refresh_row(engine: &str, refreshes: &LoadResult) -> Row {
    Row {
        scenario: format!("refresh rotation, {REFRESH_SESSIONS} sessions in parallel, {engine}"),
        bouncer: format!(
            "{:.0} refreshes/s (p99 {:.2} ms, {} failed)",
            refreshes.rate(),
            refreshes.quantile_ms(0.99),
            refreshes.failed
        ),
        limit: "—".into(),
        ratio: None,
        value: if refreshes.failed == 0 {
            refreshes.rate()
        } else {
            0.0
        },
    }
}

fn login_op(client: &reqwest::Client, base: &str) -> Op {
    let (client, url) = (client.clone(), format!("{base}/api/auth/login"));
    Arc::new(move |_| {
        let request = client
            .post(&url)
            .json(&json!({ "email": "bench@example.com", "password": PASSWORD }));
        Box::pin(async move { request.send().await.is_ok_and(|r| r.status().is_success()) })
    })
}

/// Logins and refreshes again with Bouncer on a fresh PostgreSQL database
/// (`BOUNCER_BENCH_POSTGRES_URL` names the server).
async fn postgres_rows(
    binary: &std::path::Path,
    client: &reqwest::Client,
    admin_url: &str,
    cores: usize,
    d: Duration,
    hash_limit: f64,
) -> anyhow::Result<Vec<Row>> {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let name = format!("bouncer_bench_{}", std::process::id());
    let mut admin = sqlx::AnyConnection::connect(admin_url).await?;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
        .await?;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&format!("/{name}"));
    let dir = tempfile::tempdir()?;
    let server =
        processes::start_bouncer(binary, dir.path(), url.as_str(), processes::free_port()).await?;
    let base = server.base.clone();
    if !register(client, &base, "bench@example.com").await {
        bail!("registering the benchmark user on PostgreSQL failed");
    }
    let logins = load::run(2 * cores, d, login_op(client, &base)).await;
    let refreshes = refresh_load(client, &base, d).await?;
    drop(server);
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await?;
    Ok(vec![
        Row {
            scenario: format!("password login, {} connections, PostgreSQL", 2 * cores),
            bouncer: format!(
                "{:.1} logins/s (p99 {:.0} ms)",
                logins.rate(),
                logins.quantile_ms(0.99)
            ),
            limit: format!("hash limit {hash_limit:.1}/s"),
            ratio: Some(logins.rate() / hash_limit),
            value: logins.rate(),
        },
        refresh_row("PostgreSQL", &refreshes),
    ])
}
