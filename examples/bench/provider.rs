//! The OpenID provider under load: code flows (authorize + code exchange), refresh grants,
//! and forward-auth with provider access tokens. Limits measured in the same run: the cost
//! of the RS256 signatures and database writes one grant takes, in this process, with
//! Bouncer's own code.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bouncer::clock::{Clock, SystemClock};
use bouncer::provider::clients::{self, NewClient};

use super::load::{self, LoadResult, Op};
use super::processes;
use super::scenarios::{latency, Row, AUTH_CONNECTIONS};

const REDIRECT: &str = "http://127.0.0.1/callback";
const GRANTS: usize = 16;
const SAMPLES: usize = 200;

/// A load operation from an async closure.
fn op<F, Fut>(f: F) -> Op
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    Arc::new(move |worker| Box::pin(f(worker)))
}

struct Rp {
    client: reqwest::Client,
    base: String,
    secret: String,
    cookie: String,
}

impl Rp {
    /// One authorization request (the browser signed in) and the exchange of its code.
    async fn code_flow(&self) -> Option<serde_json::Value> {
        let answer = self
            .client
            .get(format!("{}/oidc/authorize", self.base))
            .query(&[
                ("response_type", "code"),
                ("client_id", "bench"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid email profile"),
            ])
            .header("Cookie", format!("bouncer_session={}", self.cookie))
            .send()
            .await
            .ok()?;
        let location = answer.headers().get("location")?.to_str().ok()?;
        let code = url::Url::parse(location)
            .ok()?
            .query_pairs()
            .find(|(k, _)| k == "code")?
            .1
            .into_owned();
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Option<serde_json::Value> {
        let answer = self
            .client
            .post(format!("{}/oidc/token", self.base))
            .basic_auth("bench", Some(&self.secret))
            .form(form)
            .send()
            .await
            .ok()?;
        if !answer.status().is_success() {
            return None;
        }
        answer.json().await.ok()
    }
}

/// Mean time of one RS256 signature and of one database write (an insert on a fresh SQLite
/// database, as the server's connection settings make it), in milliseconds.
async fn unit_costs() -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let db = bouncer::store::Db::connect(&format!("sqlite://{}/units.db", dir.path().display()), 2)
        .await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = bouncer::provider::keys::SigningKeys::load(
        db.clone(),
        [7u8; 32],
        bouncer::config::provider::SigningAlg::Rs256,
        clock,
        900_000,
    )
    .await?;
    let claims = serde_json::json!({ "sub": "0123456789abcdef01234567", "aud": "bench", "exp": 1 });
    keys.sign("JWT", &claims)?;
    let started = Instant::now();
    for _ in 0..SAMPLES {
        keys.sign("JWT", &claims)?;
    }
    let sign_ms = started.elapsed().as_secs_f64() * 1000.0 / SAMPLES as f64;
    let started = Instant::now();
    for i in 0..SAMPLES {
        let row = bouncer::store::oidc_clients::ClientRow {
            id: format!("unit{i}"),
            name: String::new(),
            secret_hash: None,
            first_party: 0,
            redirect_uris: "[]".into(),
            post_logout_redirect_uris: "[]".into(),
            audiences: "[]".into(),
            created_at: i as i64,
            updated_at: i as i64,
        };
        bouncer::store::oidc_clients::insert(&db, &row).await?;
    }
    let write_ms = started.elapsed().as_secs_f64() * 1000.0 / SAMPLES as f64;
    Ok((sign_ms, write_ms))
}

pub async fn rows(
    binary: &std::path::Path,
    bare: &LoadResult,
    cores: usize,
    d: Duration,
) -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/bouncer.db", dir.path().display());
    // The client is registered before the server starts (it then needs no cache expiry).
    let db = bouncer::store::Db::connect(&url, 2).await?;
    let (_, secret) = clients::add(
        &db,
        NewClient {
            id: "bench".into(),
            name: "Bench".into(),
            first_party: true,
            redirect_uris: vec![REDIRECT.into()],
            ..NewClient::default()
        },
        SystemClock.now_ms(),
    )
    .await?;
    drop(db);
    let secret = secret.context("a confidential client has a secret")?;
    let server = processes::start_bouncer_with(
        binary,
        dir.path(),
        &url,
        processes::free_port(),
        &[
            ("OIDC_GATEWAY_AUDIENCES", "bench"),
            ("OIDC_TOKEN_MAX", "100000000"),
        ],
    )
    .await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    if !super::scenarios::register(&client, &server.base, "bench@example.com").await {
        anyhow::bail!("registering the benchmark user failed");
    }
    let cookie = super::scenarios::browser_cookie(&server.base).await?;
    let rp = Arc::new(Rp {
        client,
        base: server.base.clone(),
        secret,
        cookie,
    });
    let (sign_ms, write_ms) = unit_costs().await?;
    let mut rows = Vec::new();

    // Authorize + code exchange: two signatures; three writes (the code, its redemption
    // naming the grant, the grant).
    let flows = load::run(2 * cores, d, {
        let rp = rp.clone();
        op(move |_| {
            let rp = rp.clone();
            async move { rp.code_flow().await.is_some() }
        })
    })
    .await;
    let flow_cost = 2.0 * sign_ms + 3.0 * write_ms;
    let flow_limit = cores as f64 * 1000.0 / flow_cost;
    rows.push(Row {
        scenario: format!(
            "OpenID code flow (`GET /oidc/authorize` + code exchange), {} connections, SQLite",
            2 * cores
        ),
        bouncer: format!("{:.0} flows/s (p99 {:.1} ms, {} failed)", flows.rate(), flows.quantile_ms(0.99), flows.failed),
        limit: format!(
            "{cores} cores ÷ (2 × {sign_ms:.2} ms RS256 + 3 × {write_ms:.2} ms write) = {flow_limit:.0}/s"
        ),
        ratio: Some(flows.rate() / flow_limit),
        value: if flows.failed == 0 { flows.rate() } else { 0.0 },
    });

    // Refresh grants: two signatures and one compare-and-swap write each.
    let mut chains = Vec::new();
    let mut access = String::new();
    for _ in 0..GRANTS {
        let tokens = rp.code_flow().await.context("a code flow")?;
        access = tokens["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        chains.push(Mutex::new(
            tokens["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ));
    }
    let chains: Arc<Vec<Mutex<String>>> = Arc::new(chains);
    let refreshes = load::run(GRANTS, d, {
        let rp = rp.clone();
        op(move |worker: usize| {
            let (rp, chains) = (rp.clone(), chains.clone());
            async move {
                let current: String = match chains[worker].lock() {
                    Ok(c) => c.clone(),
                    Err(_) => return false,
                };
                let Some(tokens) = rp
                    .token(&[("grant_type", "refresh_token"), ("refresh_token", &current)])
                    .await
                else {
                    return false;
                };
                match tokens["refresh_token"].as_str() {
                    Some(next) => {
                        if let Ok(mut c) = chains[worker].lock() {
                            *c = next.to_string();
                        }
                        true
                    }
                    None => false,
                }
            }
        })
    })
    .await;
    let refresh_cost = 2.0 * sign_ms + write_ms;
    let refresh_limit = cores as f64 * 1000.0 / refresh_cost;
    rows.push(Row {
        scenario: format!("OpenID refresh grant, {GRANTS} grants in parallel, SQLite"),
        bouncer: format!(
            "{:.0} refreshes/s (p99 {:.1} ms, {} failed)",
            refreshes.rate(),
            refreshes.quantile_ms(0.99),
            refreshes.failed
        ),
        limit: format!(
            "{cores} cores ÷ (2 × {sign_ms:.2} ms RS256 + {write_ms:.2} ms write) = {refresh_limit:.0}/s"
        ),
        ratio: Some(refreshes.rate() / refresh_limit),
        value: if refreshes.failed == 0 { refreshes.rate() } else { 0.0 },
    });

    // Forward-auth with a provider access token (RS256, verified in memory).
    let by_provider_token = load::run(AUTH_CONNECTIONS, d, {
        let client = rp.client.clone();
        let url = format!("{}/api/auth/verify", server.base);
        op(move |_| {
            let request = client
                .get(&url)
                .bearer_auth(&access)
                .header("X-Forwarded-Method", "GET")
                .header("X-Forwarded-Uri", "/api/convos");
            async move { request.send().await.is_ok_and(|r| r.status().is_success()) }
        })
    })
    .await;
    rows.push(Row {
        scenario: format!(
            "forward-auth with a provider access token (RS256) `GET /api/auth/verify`, {AUTH_CONNECTIONS} connections"
        ),
        bouncer: latency(&by_provider_token),
        limit: format!("bare HS256 route: {}", latency(bare)),
        ratio: Some(by_provider_token.rate() / bare.rate()),
        value: by_provider_token.rate(),
    });
    drop(server);
    Ok(rows)
}
