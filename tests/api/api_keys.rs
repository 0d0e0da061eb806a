//! API keys: made, listed and revoked over the API; a key through the gateway and forward-auth
//! (checked in memory), refused at once when revoked, expired or its user banned; the per-key
//! limiter; last use written in batches; two instances; the official OpenAI Python client.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::upstream_peer::Upstream;

const KEYS: &str = "/api/bouncer/account/api-keys";
const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

async fn create(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    app.post_json_bearer(KEYS, token, body).await
}

async fn list(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let r = app
        .bare
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    status_and_json(r).await
}

async fn delete(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let r = app
        .bare
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    status_and_json(r).await
}

/// A gateway request (the upstream echoes the headers it received as JSON).
async fn through(app: &TestApp, key: &str) -> reqwest::Response {
    app.bare
        .get(app.url("/api/convos"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn gateway(upstream: &Upstream, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("UPSTREAM_URL", upstream.url.as_str())];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

async fn new_key(app: &TestApp, token: &str, name: &str) -> Value {
    let (status, body) = create(app, token, &json!({ "name": name })).await;
    assert_eq!(status, 201, "{body}");
    body
}

#[tokio::test]
async fn keys_are_made_listed_and_revoked_and_the_secret_is_shown_once() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let (status, made) = create(
        &app,
        &s.token,
        &json!({ "name": "  laptop  ", "expires_in_days": 30 }),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_string();
    let id = made["id"].as_str().unwrap().to_string();
    assert!(key.starts_with(&format!("bnc_{id}_")), "{key}");
    assert_eq!(made["prefix"], format!("bnc_{id}"));
    assert_eq!(made["name"], "laptop");
    assert_eq!(made["scopes"], json!(["gateway"]));
    assert!(made["expiresAt"].is_string());

    let (status, listed) = list(&app, &s.token, KEYS).await;
    assert_eq!(status, 200);
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["id"], id.as_str());
    assert_eq!(keys[0]["lastUsedAt"], Value::Null);
    let text = listed.to_string();
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
    let stored = "SELECT COUNT(*) FROM api_keys WHERE secret_hash = $1";
    assert_eq!(
        app.count(stored, &[&digest]).await,
        1,
        "its SHA-256 is stored"
    );
    assert_eq!(app.count(stored, &[&key]).await, 0, "the key itself is not");
    assert!(
        !text.contains(&key[key.len() - 20..]),
        "never listed: {text}"
    );
    assert!(keys[0].get("key").is_none() && keys[0].get("secret_hash").is_none());

    // Another user sees none of it and cannot revoke it.
    let grace = app.signed_in_user("grace@example.com").await;
    let (_, theirs) = list(&app, &grace.token, KEYS).await;
    assert_eq!(theirs["keys"], json!([]));
    let (status, _) = delete(&app, &grace.token, &format!("{KEYS}/{id}")).await;
    assert_eq!(status, 404);

    let (status, revoked) = delete(&app, &s.token, &format!("{KEYS}/{id}")).await;
    assert_eq!(status, 200);
    assert!(revoked["revokedAt"].is_string());
    let (status, again) = delete(&app, &s.token, &format!("{KEYS}/{id}")).await;
    assert_eq!(
        (status, again["message"].as_str()),
        (404, Some("API key not found"))
    );

    // Without a token: 401; with the key itself (not an access token): 401 too.
    let anonymous = app.bare.get(app.url(KEYS)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let fresh = new_key(&app, &s.token, "other").await;
    let (status, _) = list(&app, fresh["key"].as_str().unwrap(), KEYS).await;
    assert_eq!(status, 401, "a key does not manage keys");

    // Both events are in the audit log, with the acting user.
    let recorded = eventually(|| async {
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE kind IN ('api_key.created', 'api_key.revoked') AND user_id = $1 AND actor_id = $1",
            &[&s.user_id],
        )
        .await
            == 3
    })
    .await;
    assert!(recorded);
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let app = spawn_app_with(&[("API_KEYS_MAX_PER_USER", "2")]).await;
    let s = app.signed_in_user("ada@example.com").await;
    for (body, message) in [
        (json!({}), "name is required"),
        (json!({ "name": "   " }), "name is required"),
        (json!({ "name": 7 }), "name must be a string"),
        (json!({ "name": "x".repeat(101) }), "name must be at most 100 characters"),
        (json!({ "name": "a\u{7}b" }), "name may not contain control characters"),
        (json!({ "name": "k", "expires_in_days": 0 }), "expires_in_days must be a whole number of days from 1 to 3650, or absent for a key that does not expire"),
        (json!({ "name": "k", "expires_in_days": "soon" }), "expires_in_days must be a whole number of days"),
        (json!({ "name": "k", "expires_in_days": 1.5 }), "expires_in_days must be a whole number of days"),
        (json!({ "name": "k", "scopes": "gateway" }), "scopes must be an array of strings"),
        (json!({ "name": "k", "scopes": ["root"] }), "Unknown scope \"root\": the scopes are \"gateway\" and \"admin\""),
        (json!(["name"]), "The body must be a JSON object"),
    ] {
        let (status, answer) = create(&app, &s.token, &body).await;
        assert_eq!((status, answer["message"].as_str()), (400, Some(message)), "{body}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM api_keys", &[]).await, 0);

    // The per-user maximum counts live keys only.
    let first = new_key(&app, &s.token, "one").await;
    new_key(&app, &s.token, "two").await;
    let (status, answer) = create(&app, &s.token, &json!({ "name": "three" })).await;
    assert_eq!(status, 409);
    assert_eq!(
        answer["message"],
        "At most 2 live API keys per user: revoke one first"
    );
    let (status, _) = delete(
        &app,
        &s.token,
        &format!("{KEYS}/{}", first["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    new_key(&app, &s.token, "three").await;
    let (status, _) = delete(&app, &s.token, &format!("{KEYS}/no-such-key")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn only_an_admin_holds_an_admin_key_and_it_opens_the_admin_api() {
    let app = spawn_app().await;
    let admin = app.signed_in_user("admin@example.com").await;
    let ada = app.signed_in_user("ada@example.com").await;
    let (status, answer) = create(
        &app,
        &ada.token,
        &json!({ "name": "x", "scopes": ["admin"] }),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(app.count("SELECT COUNT(*) FROM api_keys", &[]).await, 0);
    let ada_key = new_key(&app, &ada.token, "ada's").await;
    let ada_key = ada_key["key"].as_str().unwrap();

    let (status, made) = create(
        &app,
        &admin.token,
        &json!({ "name": "ops", "scopes": ["admin"] }),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(made["scopes"], json!(["gateway", "admin"]));
    let admin_key = made["key"].as_str().unwrap();

    // The admin listing, with an access token and with the admin key; never with a gateway key.
    let (status, all) = list(&app, &admin.token, "/api/bouncer/api-keys").await;
    assert_eq!(status, 200);
    assert_eq!(all["keys"].as_array().unwrap().len(), 2);
    let (status, only_ada) = list(
        &app,
        admin_key,
        &format!("/api/bouncer/api-keys?user={}", ada.user_id),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(only_ada["keys"].as_array().unwrap().len(), 1);
    assert_eq!(only_ada["keys"][0]["email"], "ada@example.com");
    assert_eq!(list(&app, ada_key, "/api/bouncer/api-keys").await.0, 403);
    assert_eq!(list(&app, &ada.token, "/api/bouncer/api-keys").await.0, 403);

    // An admin revokes Ada's key; the log names the admin as the actor.
    let id = only_ada["keys"][0]["id"].as_str().unwrap();
    let (status, _) = delete(&app, admin_key, &format!("/api/bouncer/api-keys/{id}")).await;
    assert_eq!(status, 200);
    let logged = eventually(|| async {
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'api_key.revoked' AND user_id = $1 AND actor_id = $2",
            &[&ada.user_id, &admin.user_id],
        )
        .await
            == 1
    })
    .await;
    assert!(logged);

    // A demoted admin's key opens the admin API no more: the role is read from the account.
    let pool = app.db().await;
    sqlx::query("UPDATE users SET role = 'USER' WHERE id = $1")
        .bind(&admin.user_id)
        .execute(&pool)
        .await
        .unwrap();
    app.ctx.accounts.cached_users().forget(&admin.user_id);
    assert_eq!(list(&app, admin_key, "/api/bouncer/api-keys").await.0, 403);
}

#[tokio::test]
async fn a_key_opens_the_gateway_and_forward_auth_as_its_user() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream, &[]).await;
    app.signed_in_user("admin@example.com").await;
    let s = app.signed_in_user("ada@example.com").await;
    let made = new_key(&app, &s.token, "script").await;
    let key = made["key"].as_str().unwrap();

    let seen: Value = through(&app, key).await.json().await.unwrap();
    assert_eq!(seen["x-auth-user-id"], s.user_id.as_str());
    assert_eq!(seen["x-auth-user-email"], "ada@example.com");
    assert_eq!(seen["x-auth-user-role"], "USER");
    // The key itself stays with Bouncer (an access token goes on: LibreChat checks it).
    assert!(seen.get("authorization").is_none(), "{seen}");
    let with_token: Value = through(&app, &s.token).await.json().await.unwrap();
    assert!(with_token["authorization"].is_string(), "{with_token}");

    let verify = |credential: &str| {
        app.bare
            .get(app.url("/api/auth/verify"))
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Uri", "/api/convos")
            .header("User-Agent", BROWSER)
            .bearer_auth(credential)
            .send()
    };
    let ok = verify(key).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-auth-user-id"], s.user_id.as_str());
    assert_eq!(ok.headers()["remote-email"], "ada@example.com");

    // A key of the right shape that is not one: 401, and the upstream never hears of it.
    let hits = upstream.hits();
    let forged = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('A') { 'B' } else { 'A' }
    );
    assert_eq!(through(&app, &forged).await.status(), 401);
    assert_eq!(verify(&forged).await.unwrap().status(), 401);
    assert_eq!(upstream.hits(), hits);
}

#[tokio::test]
async fn revoked_expired_and_banned_keys_are_refused_at_once() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream, &[]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let revoked = new_key(&app, &s.token, "revoked").await;
    let key = revoked["key"].as_str().unwrap();
    assert_eq!(through(&app, key).await.status(), 200);
    let id = revoked["id"].as_str().unwrap();
    assert_eq!(delete(&app, &s.token, &format!("{KEYS}/{id}")).await.0, 200);
    assert_eq!(
        through(&app, key).await.status(),
        401,
        "revoked: refused at once"
    );

    let (status, expiring) = create(
        &app,
        &s.token,
        &json!({ "name": "e", "expires_in_days": 1 }),
    )
    .await;
    assert_eq!(status, 201);
    let expiring = expiring["key"].as_str().unwrap();
    assert_eq!(through(&app, expiring).await.status(), 200);
    app.clock.advance_ms(86_400_000 - 1);
    assert_eq!(through(&app, expiring).await.status(), 200);
    app.clock.advance_ms(1);
    let (status, body) = status_and_json(through(&app, expiring).await).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("API key expired"))
    );
    // An expired key no longer counts against the maximum, nor shows as live to a restart.
    assert_eq!(app.ctx.api_keys.reload().await.unwrap(), 0);

    let s = app.signed_in_user_again("ada@example.com").await;
    let banned = new_key(&app, &s.token, "banned").await;
    let banned = banned["key"].as_str().unwrap();
    assert_eq!(through(&app, banned).await.status(), 200);
    let user = bouncer::usecases::operator::find_user(&app.ctx, "ada@example.com")
        .await
        .unwrap();
    bouncer::usecases::operator::ban_user(&app.ctx, &user, 3_600_000)
        .await
        .unwrap();
    assert_eq!(
        through(&app, banned).await.status(),
        403,
        "the user's ban refuses the key"
    );
}

#[tokio::test]
async fn each_key_has_its_own_limiter_and_its_violations_score_the_user() {
    let upstream = Upstream::start().await;
    let app = gateway(
        &upstream,
        &[
            ("API_KEY_LIMIT_MAX", "2"),
            ("API_KEY_LIMIT_WINDOW", "1"),
            ("API_KEY_VIOLATION_SCORE", "0"),
        ],
    )
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let one = new_key(&app, &s.token, "one").await;
    let two = new_key(&app, &s.token, "two").await;
    let (one, two) = (one["key"].as_str().unwrap(), two["key"].as_str().unwrap());
    assert_eq!(through(&app, one).await.status(), 200);
    assert_eq!(through(&app, one).await.status(), 200);
    let (status, body) = status_and_json(through(&app, one).await).await;
    assert_eq!(status, 429);
    assert_eq!(
        body["message"],
        "Too many requests with this API key, please try again after 1 minute(s)"
    );
    assert_eq!(
        through(&app, two).await.status(),
        200,
        "another key has its own window"
    );
    assert_eq!(
        through(&app, &s.token).await.status(),
        200,
        "the user's token is not a key"
    );
    app.clock.advance_ms(60_000);
    assert_eq!(through(&app, one).await.status(), 200, "a new window");
}

#[tokio::test]
async fn a_violation_of_the_key_limiter_counts_towards_a_ban_of_its_user() {
    let upstream = Upstream::start().await;
    let app = gateway(
        &upstream,
        &[
            ("API_KEY_LIMIT_MAX", "1"),
            ("API_KEY_VIOLATION_SCORE", "20"),
            ("BAN_INTERVAL", "20"),
        ],
    )
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let key = new_key(&app, &s.token, "one").await;
    let key = key["key"].as_str().unwrap();
    assert_eq!(through(&app, key).await.status(), 200);
    assert_eq!(through(&app, key).await.status(), 429);
    assert_eq!(
        through(&app, &s.token).await.status(),
        403,
        "the user is banned"
    );
}

#[tokio::test]
async fn last_use_is_written_in_batches() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream, &[]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let made = new_key(&app, &s.token, "one").await;
    let key = made["key"].as_str().unwrap();
    let used_at = bouncer::clock::Clock::now_ms(app.clock.as_ref());
    assert_eq!(through(&app, key).await.status(), 200);
    let written = "SELECT COUNT(*) FROM api_keys WHERE last_used_at IS NOT NULL";
    assert_eq!(app.count(written, &[]).await, 0, "not written per request");
    assert_eq!(app.ctx.api_keys.flush_last_use().await.unwrap(), 1);
    let (_, listed) = list(&app, &s.token, KEYS).await;
    assert_eq!(
        listed["keys"][0]["lastUsedAt"],
        bouncer::accounts::iso_time(used_at)
    );
    assert_eq!(
        app.ctx.api_keys.flush_last_use().await.unwrap(),
        0,
        "nothing new to write"
    );
}

#[tokio::test]
async fn a_key_revoked_on_one_instance_is_refused_on_another() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream, &[]).await;
    let other = bouncer::AppContext::build(app.ctx.config.clone(), app.clock.clone())
        .await
        .unwrap();
    let other_base = serve(other.clone()).await;
    let _upkeep = bouncer::spawn_maintenance(other.clone());
    let s = app.signed_in_user("ada@example.com").await;
    let made = new_key(&app, &s.token, "shared").await;
    let key = made["key"].as_str().unwrap().to_string();
    let on_other = |key: String| {
        let url = format!("{other_base}/api/convos");
        let client = app.bare.clone();
        async move {
            client
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert!(
        eventually(|| async { on_other(key.clone()).await == 200 }).await,
        "a key made on one instance opens the other"
    );
    let id = made["id"].as_str().unwrap();
    assert_eq!(delete(&app, &s.token, &format!("{KEYS}/{id}")).await.0, 200);
    assert!(
        eventually(|| async { on_other(key.clone()).await == 401 }).await,
        "the revocation reaches the other instance"
    );
}

#[tokio::test]
async fn the_openai_python_client_streams_through_the_gateway_with_an_api_key() {
    let upstream = Upstream::start().await;
    upstream.gate.add_permits(100);
    let app = gateway(&upstream, &[]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let made = new_key(&app, &s.token, "openai").await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/openai/api_key_chat.py");
    let run = |key: String| {
        let base = app.url("/v1");
        let script = script.clone();
        async move {
            let out = tokio::process::Command::new(crate::mail_peers::python())
                .arg(script)
                .arg(base)
                .arg(key)
                .output()
                .await
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    };
    let key = made["key"].as_str().unwrap().to_string();
    assert_eq!(run(key.clone()).await, "REPLY:Hello world");
    let seen = upstream.last_headers.lock().unwrap().clone().unwrap();
    assert_eq!(seen["x-auth-user-id"], s.user_id.as_str());
    let id = made["id"].as_str().unwrap();
    assert_eq!(delete(&app, &s.token, &format!("{KEYS}/{id}")).await.0, 200);
    assert_eq!(run(key).await, "ERROR:AuthenticationError:401");
}

/// The value of `<input name="{name}" ... value="...">` in a page.
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag = &html[at..at + html[at..].find('>')?];
    let value = &tag[tag.find("value=\"")? + 7..];
    Some(value[..value.find('"')?].to_string())
}

async fn account_page(app: &TestApp) -> (String, String) {
    let html = app
        .browser
        .get(app.url("/ui/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&html, "csrf").unwrap_or_default();
    (html, csrf)
}

#[tokio::test]
async fn the_account_page_makes_shows_once_and_revokes_keys() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream, &[]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let login = app.browser.get(app.url("/ui/login")).send().await.unwrap();
    let csrf = input_value(&login.text().await.unwrap(), "csrf").unwrap();
    let signed_in = app
        .browser
        .post(app.url("/ui/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "ada@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);

    let (html, csrf) = account_page(&app).await;
    assert!(html.contains("id=\"api-keys-section\""), "{html}");
    let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let url = app.url(path);
        let browser = app.browser.clone();
        async move { browser.post(url).form(&fields).send().await.unwrap() }
    };
    // A bad expiry is refused in the section, and nothing is made.
    let refused = post(
        "/ui/account/api-keys",
        vec![
            ("csrf", csrf.clone()),
            ("name", "cli".into()),
            ("expires_in_days", "soon".into()),
        ],
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(app.count("SELECT COUNT(*) FROM api_keys", &[]).await, 0);
    // Without this browser's form token: refused too.
    let forged = post(
        "/ui/account/api-keys",
        vec![("csrf", "x".into()), ("name", "cli".into())],
    )
    .await;
    assert_ne!(forged.status(), 201);
    assert_eq!(app.count("SELECT COUNT(*) FROM api_keys", &[]).await, 0);

    let made = post(
        "/ui/account/api-keys",
        vec![
            ("csrf", csrf.clone()),
            ("name", "cli".into()),
            ("expires_in_days", "7".into()),
        ],
    )
    .await;
    assert_eq!(made.status(), 201);
    let html = made.text().await.unwrap();
    let shown = html.split("id=\"new-api-key-value\">").nth(1).unwrap();
    let key = shown[..shown.find('<').unwrap()].to_string();
    assert!(key.starts_with("bnc_"), "{key}");
    assert_eq!(
        through(&app, &key).await.status(),
        200,
        "the key shown works"
    );

    let (html, csrf) = account_page(&app).await;
    assert!(!html.contains(&key), "shown only once");
    assert_eq!(html.matches("data-key-id=").count(), 1);
    let id = input_value(&html, "key_id").unwrap();
    let revoked = post(
        "/ui/account/api-keys/revoke",
        vec![("csrf", csrf), ("key_id", id)],
    )
    .await;
    assert_eq!(revoked.status(), 200);
    assert!(!revoked.text().await.unwrap().contains("data-key-id="));
    assert_eq!(through(&app, &key).await.status(), 401);
    // The API agrees.
    let (_, listed) = list(&app, &s.token, KEYS).await;
    assert!(listed["keys"][0]["revokedAt"].is_string());
}

fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_bouncer"))
        .current_dir(app.dir.path())
        .env_clear()
        .env("DATABASE_URL", &app.database_url)
        .env("JWT_SECRET", JWT_SECRET)
        .env("JWT_REFRESH_SECRET", JWT_REFRESH_SECRET)
        .env("CREDS_KEY", CREDS_KEY)
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_command_line_makes_lists_and_revokes_keys() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream, &[]).await;
    app.signed_in_user("admin@example.com").await;
    let s = app.signed_in_user("ada@example.com").await;
    let refused = cli(
        &app,
        &[
            "api-keys",
            "create",
            "ada@example.com",
            "--name",
            "ops",
            "--scope",
            "admin",
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Only an ADMIN"));
    let made = cli(
        &app,
        &[
            "api-keys",
            "create",
            "ada@example.com",
            "--name",
            "cron",
            "--expires-days",
            "30",
        ],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let key = String::from_utf8_lossy(&made.stdout).trim().to_string();
    assert!(key.starts_with("bnc_"), "{key}");
    // Made by another process: this server learns of it at its next read.
    app.ctx.api_keys.sync().await.unwrap();
    assert_eq!(through(&app, &key).await.status(), 200);

    let listed = cli(&app, &["api-keys", "list", "ada@example.com", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["total"], 1);
    assert!(
        !listed.to_string().contains(&key[17..]),
        "the secret is never listed"
    );
    let id = listed["keys"][0]["id"].as_str().unwrap();
    let revoked = cli(&app, &["api-keys", "revoke", id]);
    assert!(revoked.status.success());
    let again = cli(&app, &["api-keys", "revoke", id]);
    assert_eq!(again.status.code(), Some(1));
    app.ctx.api_keys.sync().await.unwrap();
    assert_eq!(through(&app, &key).await.status(), 401);
    let (_, own) = list(&app, &s.token, KEYS).await;
    assert!(own["keys"][0]["revokedAt"].is_string());
}

#[tokio::test]
async fn a_disabled_or_deleted_users_keys_are_refused() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream, &[]).await;
    let admin = app.signed_in_user("admin@example.com").await;
    let (_, ops) = create(
        &app,
        &admin.token,
        &json!({ "name": "ops", "scopes": ["admin"] }),
    )
    .await;
    let ops = ops["key"].as_str().unwrap().to_string();
    let ada = app.signed_in_user("ada@example.com").await;
    let key = new_key(&app, &ada.token, "ada").await;
    let key = key["key"].as_str().unwrap();
    assert_eq!(through(&app, key).await.status(), 200);

    // Through the admin API, with the admin's key.
    let admin_call = |method: reqwest::Method, path: String| {
        app.bare
            .request(method, app.url(&format!("/api/bouncer{path}")))
            .bearer_auth(&ops)
            .json(&json!({}))
            .send()
    };
    let disabled = admin_call(
        reqwest::Method::POST,
        format!("/users/{}/disable", ada.user_id),
    )
    .await
    .unwrap();
    assert_eq!(disabled.status(), 200);
    let (status, body) = status_and_json(through(&app, key).await).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (403, Some("Your account has been disabled."))
    );

    let grace = app.signed_in_user("grace@example.com").await;
    let theirs = new_key(&app, &grace.token, "grace").await;
    let theirs = theirs["key"].as_str().unwrap();
    assert_eq!(through(&app, theirs).await.status(), 200);
    let deleted = admin_call(reqwest::Method::DELETE, format!("/users/{}", grace.user_id))
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200, "{}", deleted.text().await.unwrap());
    // The rows went with the user; the next read of the keys notices.
    app.ctx.api_keys.sync().await.unwrap();
    assert_eq!(through(&app, theirs).await.status(), 401);
}
