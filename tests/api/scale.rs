//! Several instances on one PostgreSQL and one Redis, and the faults of each. These run when
//! `BOUNCER_TEST_POSTGRES_URL` and `BOUNCER_TEST_REDIS_URL` are set (`.ci/run` sets them) and
//! say they were skipped otherwise (see `helpers::skip` for when a skip fails instead).

use serde_json::{json, Value};
use tokio::net::TcpStream;

use crate::binary::{start, Running};
use crate::helpers::*;
use crate::outage_peer::OutagePeer;

/// The PostgreSQL and Redis URLs when this pass selected both; `None` (a skip, CI or not)
/// otherwise.
fn shared_services(test: &str) -> Option<(String, String)> {
    match (
        std::env::var("BOUNCER_TEST_POSTGRES_URL"),
        std::env::var("BOUNCER_TEST_REDIS_URL"),
    ) {
        (Ok(pg), Ok(redis)) => Some((pg, redis)),
        _ => {
            skip_unselected(test, "BOUNCER_TEST_POSTGRES_URL and BOUNCER_TEST_REDIS_URL");
            None
        }
    }
}

#[tokio::test]
async fn instances_share_limits_bans_and_logouts() {
    let Some((_, redis_url)) = shared_services("instances_share_limits_bans_and_logouts") else {
        return;
    };
    let (_db, database_url) = TestPostgres::create().await.unwrap();
    let redis = TestRedis::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("DATABASE_URL", database_url.as_str()),
        ("USE_REDIS", "true"),
        ("REDIS_URI", redis_url.as_str()),
        ("REDIS_KEY_PREFIX", redis.prefix.as_str()),
        ("JWT_SECRET", JWT_SECRET),
        ("JWT_REFRESH_SECRET", JWT_REFRESH_SECRET),
        ("CREDS_KEY", CREDS_KEY),
        ("ALLOW_REGISTRATION", "true"),
        ("LOGIN_MAX", "4"),
        ("BAN_INTERVAL", "2"),
    ];
    // Three instances start together on a fresh database: migrations must not collide.
    let instances: Vec<Running> =
        futures::future::join_all((0..3).map(|_| start(dir.path(), &vars))).await;
    let [a, b, c] = [&instances[0].base, &instances[1].base, &instances[2].base];
    let client = reqwest::Client::new();
    let register = post_json_from(
        &client,
        format!("{a}/api/auth/register"),
        "198.51.100.100",
        &json!({"name": "Ada Lovelace", "email": "ada@example.com", "password": PASSWORD, "confirm_password": PASSWORD}),
    )
    .await;
    assert_eq!(register.status(), 200);

    // One login budget across instances: 4 in total, wherever they land.
    let login = json!({"email": "ada@example.com", "password": PASSWORD});
    let mut statuses = Vec::new();
    for base in [a, b, c, a, b] {
        let r = post_json_from(
            &client,
            format!("{base}/api/auth/login"),
            "198.51.100.1",
            &login,
        )
        .await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429]);

    // Logout on one instance: the refresh token fails on another at once, the access token
    // soon after.
    let session = post_json_from(
        &client,
        format!("{b}/api/auth/login"),
        "198.51.100.2",
        &login,
    )
    .await;
    let refresh = cookie_value(session.headers(), "refreshToken").unwrap();
    let token = session.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = |base: &str| {
        client
            .get(format!("{base}/api/user"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(me(c).await.unwrap().status(), 200);
    let logout = client
        .post(format!("{a}/api/auth/logout"))
        .header("Cookie", format!("refreshToken={refresh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    let refreshed = client
        .post(format!("{c}/api/auth/refresh"))
        .header("Cookie", format!("refreshToken={refresh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 401);
    assert!(eventually(|| async { me(c).await.unwrap().status() == 401 }).await);
    assert!(eventually(|| async { me(b).await.unwrap().status() == 401 }).await);

    // A ban made on one instance holds on the others: two limiter violations on A ban the IP.
    let attacker = "203.0.113.66";
    let mut on_a = Vec::new();
    for _ in 0..6 {
        let r = post_json_from(
            &client,
            format!("{a}/api/auth/login"),
            attacker,
            &json!({"email": "x@example.com", "password": PASSWORD}),
        )
        .await;
        on_a.push(r.status().as_u16());
    }
    assert_eq!(on_a, [404, 404, 404, 404, 429, 429]);
    let banned_on = |base: String| {
        let client = client.clone();
        async move {
            post_json_from(
                &client,
                format!("{base}/api/auth/login"),
                attacker,
                &json!({"email": "ada@example.com", "password": PASSWORD}),
            )
            .await
            .status()
                == 403
        }
    };
    assert!(
        banned_on(a.clone()).await,
        "banned at once where it was made"
    );
    assert!(eventually(|| banned_on(b.clone())).await);
    assert!(eventually(|| banned_on(c.clone())).await);

    for instance in instances {
        instance.stop();
    }
}

#[tokio::test]
async fn postgres_outage_answers_503_and_recovers_by_itself() {
    let Some(_) = shared_services("postgres_outage_answers_503_and_recovers_by_itself") else {
        return;
    };
    let (_db, direct_url) = TestPostgres::create().await.unwrap();
    let mut url = url::Url::parse(&direct_url).unwrap();
    let mut outage = OutagePeer::in_front_of(OutagePeer::target_of(&url, 5432)).await;
    url.set_port(Some(outage.port)).unwrap();
    let app = spawn_app_with(&[("DATABASE_URL", url.as_str())]).await;
    let s = app.signed_in_user("ada@example.com").await;
    assert_eq!(
        app.get_user(&s.token).await.status(),
        200,
        "the user is now cached"
    );

    outage.refuse().await;
    let login = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(login.status(), 503);
    assert_eq!(
        login.json::<Value>().await.unwrap(),
        json!({"message": "Service unavailable"})
    );
    let (status, health) = app.health().await;
    assert_eq!(status, 503);
    assert_eq!(health["database"], "down");
    // A token-authenticated request needs no database round trip.
    assert_eq!(app.get_user(&s.token).await.status(), 200);

    outage.restore();
    assert!(
        eventually(|| async { app.login("ada@example.com", PASSWORD).await.status() == 200 }).await,
        "service resumes by itself"
    );
    assert_eq!(app.health().await.0, 200);
}

/// A private redis-server on its own port, so the test can stop and restart it.
struct OwnRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn start(port: u16) -> Option<Self> {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        Some(Self {
            port,
            child: Some(child),
        })
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn redis_answers(port: u16) -> bool {
    eventually(|| async move { TcpStream::connect(("127.0.0.1", port)).await.is_ok() }).await
}

#[tokio::test]
async fn redis_outage_fails_open_and_recovers_by_itself() {
    let test = "redis_outage_fails_open_and_recovers_by_itself";
    let Some(_) = shared_services(test) else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Some(mut redis) = OwnRedis::start(port) else {
        skip(test, "no redis-server binary (.ci/run installs it)");
        return;
    };
    assert!(redis_answers(port).await);
    let uri = format!("redis://127.0.0.1:{port}");
    let app = spawn_app_with(&[
        ("USE_REDIS", "true"),
        ("REDIS_URI", uri.as_str()),
        ("LOGIN_MAX", "2"),
        ("BAN_VIOLATIONS", "false"),
    ])
    .await;
    let s = app.signed_in_user("ada@example.com").await; // one login counted

    redis.stop();
    // Authentication keeps working; the limiter fails open instead of refusing everyone.
    for _ in 0..3 {
        assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
    }
    assert_eq!(app.get_user(&s.token).await.status(), 200);
    let (_, health) = app.health().await;
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["redis"], "down");
    assert!(
        health["moderationStateErrors"].as_u64().unwrap() >= 3,
        "{health}"
    );
    // Readiness counts Redis when it is configured.
    let ready = app.bare.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<Value>().await.unwrap()["redis"], "down");

    let _redis = OwnRedis::start(redis.port).unwrap();
    assert!(redis_answers(port).await);
    // The limiter counts again once Redis is back (a fresh window: Redis kept nothing).
    assert!(
        eventually(|| async { app.login("ada@example.com", PASSWORD).await.status() == 429 }).await,
        "limits apply again by themselves"
    );
    let (_, health) = app.health().await;
    assert_eq!(health["redis"], "up");
    let ready = app.bare.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// The OpenID provider across instances: both sign with the one key generated at first start,
/// a code issued by one is redeemed on the other, and a grant refreshed on either.
#[tokio::test]
async fn provider_codes_and_grants_work_across_instances() {
    let Some((_, redis_url)) = shared_services("provider_codes_and_grants_work_across_instances")
    else {
        return;
    };
    let (_db, database_url) = TestPostgres::create().await.unwrap();
    let redis = TestRedis::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("DATABASE_URL", database_url.as_str()),
        ("USE_REDIS", "true"),
        ("REDIS_URI", redis_url.as_str()),
        ("REDIS_KEY_PREFIX", redis.prefix.as_str()),
        ("JWT_SECRET", JWT_SECRET),
        ("JWT_REFRESH_SECRET", JWT_REFRESH_SECRET),
        ("CREDS_KEY", CREDS_KEY),
        ("ALLOW_REGISTRATION", "true"),
        ("ALLOW_UNVERIFIED_EMAIL_LOGIN", "true"),
        // Behind one load balancer: one issuer.
        ("DOMAIN_SERVER", "http://bouncer.test"),
    ];
    let instances: Vec<Running> =
        futures::future::join_all((0..2).map(|_| start(dir.path(), &vars))).await;
    let [a, b] = [&instances[0].base, &instances[1].base];
    let db = bouncer::store::Db::connect(&database_url, 2).await.unwrap();
    let (_, secret) = bouncer::provider::clients::add(
        &db,
        bouncer::provider::clients::NewClient {
            id: "rp".into(),
            first_party: true,
            redirect_uris: vec!["https://rp.example.com/cb".into()],
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    let secret = secret.unwrap();
    let jwks = |base: &String| {
        let url = format!("{base}/oidc/jwks");
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    assert_eq!(jwks(a).await, jwks(b).await, "one key for both");

    let client = reqwest::Client::new();
    let register = post_json_from(
        &client,
        format!("{a}/api/auth/register"),
        "198.51.100.100",
        &json!({"name": "Ada Lovelace", "email": "ada@example.com", "password": PASSWORD, "confirm_password": PASSWORD}),
    )
    .await;
    assert_eq!(register.status(), 200);
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = format!(
        "{a}/oidc/authorize?response_type=code&client_id=rp&redirect_uri=https%3A%2F%2Frp.example.com%2Fcb&scope=openid%20email"
    );
    let to_login = browser.get(&authorize).send().await.unwrap();
    assert_eq!(to_login.status(), 303);
    let login_url = format!("{a}{}", to_login.headers()["location"].to_str().unwrap());
    let html = browser
        .get(&login_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| {
        let at = html.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
        html[at..].split('"').next().unwrap().replace("&#38;", "&")
    };
    let (csrf, rd) = (value("csrf"), value("rd"));
    let signed_in = browser
        .post(format!("{a}/ui/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("rd", rd.as_str()),
            ("email", "ada@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let back = signed_in.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let back = if back.starts_with('/') {
        format!("{a}{back}")
    } else {
        back.replace("http://bouncer.test", a)
    };
    let with_code = browser.get(&back).send().await.unwrap();
    assert_eq!(with_code.status(), 303);
    let callback = url::Url::parse(with_code.headers()["location"].to_str().unwrap()).unwrap();
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    let token = |base: &String, form: Vec<(&'static str, String)>| {
        client
            .post(format!("{base}/oidc/token"))
            .basic_auth("rp", Some(&secret))
            .form(&form)
            .send()
    };
    let exchange = || {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.clone()),
            ("redirect_uri", "https://rp.example.com/cb".to_string()),
        ]
    };
    let tokens: Value = token(b, exchange()).await.unwrap().json().await.unwrap();
    assert!(tokens["id_token"].is_string(), "{tokens}");
    let refresh = |base: &String, refresh_token: &str| {
        token(
            base,
            vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", refresh_token.to_string()),
            ],
        )
    };
    let refreshed = refresh(a, tokens["refresh_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200, "a grant of B refreshed on A");
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(
        token(a, exchange()).await.unwrap().status(),
        400,
        "a code works once, anywhere"
    );
    // Its reuse revoked the grant it bought, on every instance.
    let latest = refreshed["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(b, latest).await.unwrap().status(), 400);
    for instance in instances {
        instance.stop();
    }
}
