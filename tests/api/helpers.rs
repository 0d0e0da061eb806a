use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bouncer::clock::ManualClock;
use bouncer::config::Config;
use bouncer::AppContext;
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};
use sqlx::{AnyPool, Connection, Executor};
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery";
pub const JWT_SECRET: &str = "test-access-secret-0123456789abcdef0123456789";
pub const JWT_REFRESH_SECRET: &str = "test-refresh-secret-0123456789abcdef012345678";
pub const CREDS_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

pub struct TestApp {
    pub base: String,
    pub ctx: Arc<AppContext>,
    pub clock: Arc<ManualClock>,
    /// A browser: keeps cookies, does not follow redirects.
    pub browser: reqwest::Client,
    /// A bare client: no cookie store, for tests that place cookies by hand.
    pub bare: reqwest::Client,
    /// Holds the database; removed when the test ends.
    pub dir: TempDir,
    pub database_url: String,
    /// The test's own PostgreSQL database, dropped with the app.
    _postgres: Option<TestPostgres>,
    /// The test's own Redis key prefix, cleared with the app.
    _redis: Option<TestRedis>,
}

/// A key prefix of its own in the Redis named by `BOUNCER_TEST_REDIS_URL`.
pub struct TestRedis {
    pub url: String,
    pub prefix: String,
}

impl TestRedis {
    /// `None` when this pass did not select Redis (`BOUNCER_TEST_REDIS_URL` unset); panics when
    /// the variable names a Redis that does not answer, so that a pass meant for Redis cannot
    /// quietly run without it (Bouncer's limiter would fail open and the tests pass).
    pub fn new() -> Option<Self> {
        let url = std::env::var("BOUNCER_TEST_REDIS_URL").ok()?;
        assert_redis_answers(&url);
        Some(Self {
            url,
            prefix: format!("bouncer-test-{}:", bouncer::ids::random_hex(8)),
        })
    }
}

/// Panics unless the Redis at `url` answers a PING (checked once per run).
fn assert_redis_answers(url: &str) {
    static ANSWERED: OnceLock<()> = OnceLock::new();
    ANSWERED.get_or_init(|| {
        let answer = redis::Client::open(url).and_then(|client| {
            let mut conn = client.get_connection_with_timeout(Duration::from_secs(5))?;
            redis::cmd("PING").query::<String>(&mut conn)
        });
        if let Err(e) = answer {
            panic!("BOUNCER_TEST_REDIS_URL is set to {url}, but Redis does not answer there: {e}");
        }
    });
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

/// A PostgreSQL database made for one test when `BOUNCER_TEST_POSTGRES_URL` names a server
/// (any database on it that the user may connect to; the test creates its own beside it).
pub struct TestPostgres {
    admin_url: String,
    name: String,
}

impl TestPostgres {
    /// `None` when this pass did not select PostgreSQL (`BOUNCER_TEST_POSTGRES_URL` unset);
    /// panics when the variable names a server that does not answer.
    pub async fn create() -> Option<(Self, String)> {
        let admin_url = std::env::var("BOUNCER_TEST_POSTGRES_URL").ok()?;
        sqlx::any::install_default_drivers();
        let name = format!("bouncer_test_{}", bouncer::ids::random_hex(8));
        let mut conn = sqlx::AnyConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "BOUNCER_TEST_POSTGRES_URL is set, but PostgreSQL does not answer there: {e}"
                )
            });
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        Some((Self { admin_url, name }, url.to_string()))
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin_url).await {
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}

pub fn base_vars(dir: &TempDir) -> HashMap<String, String> {
    HashMap::from([
        ("HOST".into(), "127.0.0.1".into()),
        ("PORT".into(), "0".into()),
        ("JWT_SECRET".into(), JWT_SECRET.into()),
        ("JWT_REFRESH_SECRET".into(), JWT_REFRESH_SECRET.into()),
        ("CREDS_KEY".into(), CREDS_KEY.into()),
        ("ALLOW_REGISTRATION".into(), "true".into()),
        // Limiters opened wide; the moderation tests set their own limits.
        ("LOGIN_MAX".into(), "1000".into()),
        ("REGISTER_MAX".into(), "1000".into()),
        ("RESET_PASSWORD_MAX".into(), "1000".into()),
        ("RESET_PASSWORD_SUBMISSION_MAX".into(), "1000".into()),
        ("VERIFY_EMAIL_MAX".into(), "1000".into()),
        ("VERIFY_EMAIL_SUBMISSION_MAX".into(), "1000".into()),
        (
            "DATABASE_URL".into(),
            format!("sqlite://{}/bouncer.db", dir.path().display()),
        ),
    ])
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Boots the server with these variables over the test defaults.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_on(None, overrides).await
}

/// [`spawn_app_with`] with `DOMAIN_SERVER` set to the server's own address (unless overridden):
/// a real browser sends `Origin` with its form posts, which the pages check against it.
pub async fn spawn_app_at_own_origin(overrides: &[(&str, &str)]) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let mut vars = vec![("DOMAIN_SERVER", origin.as_str())];
    vars.extend_from_slice(overrides);
    spawn_app_on(Some(listener), &vars).await
}

/// [`spawn_app_at_own_origin`] named `localhost` rather than by its IP address: WebAuthn
/// needs a domain for its relying-party id (the passkey walks).
pub async fn spawn_app_at_localhost(overrides: &[(&str, &str)]) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let mut vars = vec![("DOMAIN_SERVER", origin.as_str())];
    vars.extend_from_slice(overrides);
    spawn_app_on(Some(listener), &vars).await
}

async fn spawn_app_on(
    listener: Option<tokio::net::TcpListener>,
    overrides: &[(&str, &str)],
) -> TestApp {
    crate::log_capture::capture();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut vars = base_vars(&dir);
    let postgres = TestPostgres::create().await;
    if let Some((_, url)) = &postgres {
        vars.insert("DATABASE_URL".into(), url.clone());
    }
    let redis = TestRedis::new();
    if let Some(r) = &redis {
        vars.insert("USE_REDIS".into(), "true".into());
        vars.insert("REDIS_URI".into(), r.url.clone());
        vars.insert("REDIS_KEY_PREFIX".into(), r.prefix.clone());
    }
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_vars(&vars).expect("valid test configuration");
    let database_url = config.database_url.clone();
    let clock = Arc::new(ManualClock::starting_now());
    let ctx = AppContext::build(config, clock.clone())
        .await
        .expect("app builds");
    let base = match listener {
        Some(listener) => serve_on(listener, ctx.clone()),
        None => serve(ctx.clone()).await,
    };
    TestApp {
        base,
        ctx,
        clock,
        browser: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .unwrap(),
        bare: reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap(),
        dir,
        database_url,
        _postgres: postgres.map(|(db, _)| db),
        _redis: redis,
    }
}

/// Serves a context on a fresh port; returns its base URL.
pub async fn serve(ctx: Arc<AppContext>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve_on(listener, ctx)
}

/// Serves a context on `listener`; returns its base URL.
fn serve_on(listener: tokio::net::TcpListener, ctx: Arc<AppContext>) -> String {
    let addr = listener.local_addr().unwrap();
    tokio::spawn(bouncer::serve(listener, ctx, std::future::pending()));
    format!("http://{addr}")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Direct access to the database, for arranging and checking what the API cannot show.
    pub async fn db(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPool::connect(&self.database_url).await.unwrap()
    }

    /// A `SELECT COUNT(*) ...` answered by the database, with text parameters.
    pub async fn count(&self, sql: &str, params: &[&str]) -> i64 {
        let db = self.db().await;
        let mut query = sqlx::query_as::<_, (i64,)>(sql);
        for p in params {
            query = query.bind(*p);
        }
        query.fetch_one(&db).await.unwrap().0
    }

    pub async fn register(&self, name: &str, email: &str, password: &str) -> reqwest::Response {
        self.bare
            .post(self.url("/api/auth/register"))
            .json(&json!({
                "name": name, "email": email, "password": password, "confirm_password": password
            }))
            .send()
            .await
            .unwrap()
    }

    pub async fn login_with(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        client
            .post(self.url("/api/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.login_with(&self.bare, email, password).await
    }

    /// Registers and logs in a user; returns the access token and the refresh cookie value.
    pub async fn signed_in_user(&self, email: &str) -> Session {
        assert_eq!(
            self.register("Test User", email, PASSWORD).await.status(),
            200
        );
        self.signed_in_user_again(email).await
    }

    /// Logs an existing user in once more: a new session.
    pub async fn signed_in_user_again(&self, email: &str) -> Session {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), 200);
        let refresh = cookie_value(response.headers(), "refreshToken").expect("refresh cookie");
        let body: Value = response.json().await.unwrap();
        Session {
            token: body["token"].as_str().unwrap().to_string(),
            refresh,
            user_id: body["user"]["id"].as_str().unwrap().to_string(),
        }
    }

    pub async fn refresh_with_cookie(&self, refresh: &str, query: &str) -> reqwest::Response {
        self.bare
            .post(self.url(&format!("/api/auth/refresh{query}")))
            .header(
                "Cookie",
                format!("refreshToken={refresh}; token_provider=librechat"),
            )
            .header("Content-Type", "application/json")
            .send()
            .await
            .unwrap()
    }

    pub async fn get_user(&self, token: &str) -> reqwest::Response {
        self.bare
            .get(self.url("/api/user"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/auth/refresh` from the browser (its cookie jar), as the web client sends it.
    pub async fn browser_refresh(&self) -> reqwest::Response {
        self.browser
            .post(self.url("/api/auth/refresh"))
            .header("Content-Type", "application/json")
            .send()
            .await
            .unwrap()
    }

    /// After a sign-in in the browser, the web client's refresh: `{token, user}`.
    pub async fn refreshed_in_browser(&self) -> Value {
        let response = self.browser_refresh().await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// `GET /healthz`: its status and body.
    pub async fn health(&self) -> (u16, Value) {
        let response = self.bare.get(self.url("/healthz")).send().await.unwrap();
        status_and_json(response).await
    }

    /// A JSON `POST` to one of the app's paths, from the bare client.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.bare
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A JSON `POST` to one of the app's paths: the answer's status and body (see
    /// [`status_and_json`]).
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        status_and_json(self.post(path, body).await).await
    }

    /// [`TestApp::post_json`] with an access token.
    pub async fn post_json_bearer(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let response = self
            .bare
            .post(self.url(path))
            .json(body)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        status_and_json(response).await
    }

    /// `POST /api/auth/login` from the client at `ip` (`X-Forwarded-For`, believed from the
    /// trusted 127.0.0.1 peer).
    pub async fn login_from(&self, ip: &str, email: &str, password: &str) -> reqwest::Response {
        post_json_from(
            &self.bare,
            self.url("/api/auth/login"),
            ip,
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// `POST /api/auth/register` of "Some Person" with [`PASSWORD`] from the client at `ip`.
    pub async fn register_from(&self, ip: &str, email: &str) -> reqwest::Response {
        post_json_from(
            &self.bare,
            self.url("/api/auth/register"),
            ip,
            &json!({
                "name": "Some Person", "email": email, "password": PASSWORD, "confirm_password": PASSWORD
            }),
        )
        .await
    }

    /// `POST /api/auth/register` with a body of the test's own.
    pub async fn register_json(&self, body: &Value) -> (u16, Value) {
        self.post_json("/api/auth/register", body).await
    }

    /// `POST /api/user/verify`: an email verification token submitted.
    pub async fn verify_email(&self, email: &str, token: &str) -> (u16, Value) {
        self.post_json(
            "/api/user/verify",
            &json!({ "email": email, "token": token }),
        )
        .await
    }

    /// `POST /api/user/verify/resend`.
    pub async fn resend_verification(&self, email: &str) -> (u16, Value) {
        self.post_json("/api/user/verify/resend", &json!({ "email": email }))
            .await
    }

    /// `POST /api/auth/requestPasswordReset`.
    pub async fn request_password_reset(&self, email: &str) -> (u16, Value) {
        self.post_json("/api/auth/requestPasswordReset", &json!({ "email": email }))
            .await
    }

    /// `POST /api/auth/resetPassword`; `confirm` is sent as `confirm_password` when given.
    pub async fn reset_password(
        &self,
        user_id: &str,
        token: &str,
        password: &str,
        confirm: Option<&str>,
    ) -> (u16, Value) {
        let mut body = json!({ "userId": user_id, "token": token, "password": password });
        if let Some(confirm) = confirm {
            body["confirm_password"] = json!(confirm);
        }
        self.post_json("/api/auth/resetPassword", &body).await
    }

    /// `POST /api/auth/2fa/enable`: stages a secret and backup codes.
    pub async fn enable_2fa(&self, token: &str) -> (u16, Value) {
        self.post_json_bearer("/api/auth/2fa/enable", token, &json!({}))
            .await
    }

    /// `POST /api/auth/2fa/verify` with a TOTP code.
    pub async fn verify_2fa(&self, token: &str, code: &str) -> (u16, Value) {
        self.post_json_bearer("/api/auth/2fa/verify", token, &json!({ "token": code }))
            .await
    }

    /// `POST /api/auth/2fa/confirm` with a TOTP code.
    pub async fn confirm_2fa(&self, token: &str, code: &str) -> (u16, Value) {
        self.post_json_bearer("/api/auth/2fa/confirm", token, &json!({ "token": code }))
            .await
    }

    /// `POST /api/auth/2fa/disable` with `{"token": ...}`, `{"backupCode": ...}` or neither.
    pub async fn disable_2fa(&self, token: &str, body: &Value) -> (u16, Value) {
        self.post_json_bearer("/api/auth/2fa/disable", token, body)
            .await
    }

    /// `POST /api/auth/2fa/backup/regenerate` with `{"token": ...}`, `{"backupCode": ...}` or
    /// neither.
    pub async fn regenerate_backup_codes(&self, token: &str, body: &Value) -> (u16, Value) {
        self.post_json_bearer("/api/auth/2fa/backup/regenerate", token, body)
            .await
    }

    /// `POST /api/auth/2fa/verify-temp`: the second step of a login, with a TOTP code.
    pub async fn verify_temp(&self, temp_token: &str, code: &str) -> (u16, Value) {
        self.post_json(
            "/api/auth/2fa/verify-temp",
            &json!({ "tempToken": temp_token, "token": code }),
        )
        .await
    }

    /// `POST /api/auth/2fa/verify-temp` with a backup code.
    pub async fn verify_temp_backup(&self, temp_token: &str, backup_code: &str) -> (u16, Value) {
        self.post_json(
            "/api/auth/2fa/verify-temp",
            &json!({ "tempToken": temp_token, "backupCode": backup_code }),
        )
        .await
    }
}

/// The status and body of an answer: its JSON, or its text as a JSON string when the body is
/// not JSON (LibreChat answers some refusals in plain text).
pub async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The status and the `message` of a JSON answer (empty when it has none).
pub async fn status_and_message(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// A JSON `POST` to any URL (another instance, a restarted app) from the client at `ip`, named
/// by `X-Forwarded-For`.
pub async fn post_json_from(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    ip: &str,
    body: &Value,
) -> reqwest::Response {
    client
        .post(url)
        .header("X-Forwarded-For", ip)
        .json(body)
        .send()
        .await
        .unwrap()
}

pub struct Session {
    pub token: String,
    pub refresh: String,
    pub user_id: String,
}

/// Every `Set-Cookie` header of a response.
pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// The full `Set-Cookie` line for one cookie name.
pub fn set_cookie_line(headers: &HeaderMap, name: &str) -> Option<String> {
    set_cookies(headers)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    set_cookie_line(headers, name)
        .map(|line| line.split(';').next().unwrap()[name.len() + 1..].to_string())
}

/// The attribute value of a `Set-Cookie` line (`Expires`, `Path`...), if present.
pub fn cookie_attr(line: &str, attr: &str) -> Option<String> {
    line.split(';').skip(1).map(str::trim).find_map(|part| {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        k.eq_ignore_ascii_case(attr).then(|| v.to_string())
    })
}

pub fn has_flag(line: &str, flag: &str) -> bool {
    line.split(';')
        .skip(1)
        .any(|p| p.trim().eq_ignore_ascii_case(flag))
}

/// The payload of a JWT, decoded without verification (as the web client does to read `exp`).
pub fn jwt_payload(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The `Location` header of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// Retries `check` until it gives a value, at most `attempts` times with `interval` between
/// tries; `None` when it never did. A wait, not a timing assertion: the bound only ends a test
/// whose awaited effect never comes. Every poll in the suite goes through here.
pub async fn poll_for<T, F, Fut>(attempts: u32, interval: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..attempts {
        if let Some(value) = check().await {
            return Some(value);
        }
        tokio::time::sleep(interval).await;
    }
    None
}

/// The first value `check` gives (an effect that lands after a response, or in another
/// process); `None` after about ten seconds.
pub async fn eventually_some<T, F, Fut>(check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_for(200, Duration::from_millis(50), check).await
}

/// Retries `check` until it holds; `false` after about ten seconds.
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_some(|| {
        let holds = check();
        async move { holds.await.then_some(()) }
    })
    .await
    .is_some()
}

/// Whether this is a CI run: `CI=true` (or `1`), as CI services set it and `.ci/run` exports it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Skips `test` because a program it needs (nginx, caddy, redis-server...) is missing on this
/// machine: prints a `SKIPPED` line past the harness's capture, and under `CI=true` panics
/// instead, so that CI cannot pass green without running it (`.ci/run` installs them all).
///
/// The skip rule of the suite:
/// - a missing program: a skip on a developer's machine, a failure under `CI=true` (here);
/// - an engine this pass did not select (`BOUNCER_TEST_POSTGRES_URL` or
///   `BOUNCER_TEST_REDIS_URL` unset, as in the SQLite pass of `.ci/run`): no missing service, a
///   skip even under `CI=true` ([`skip_unselected`]);
/// - a variable that is set to a server that does not answer: a failure everywhere
///   ([`TestPostgres::create`], [`TestRedis::new`]).
pub fn skip(test: &str, reason: &str) {
    if in_ci() {
        panic!("{test} would be skipped ({reason}), and under CI=true a skip fails");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// Skips `test` because this pass did not select the engine it needs (`variables` unset): a
/// `SKIPPED` line, CI or not (see [`skip`] for the rule).
pub fn skip_unselected(test: &str, variables: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: set {variables} to run it"
    );
}
