//! Bouncer as an OpenID provider against the real relying parties chat platforms use:
//! `openid-client` 6 configured the three ways LibreChat configures it, `jwks-rsa` +
//! `passport-jwt` checking tokens as LibreChat's `openIdJwtStrategy` does, and Authlib
//! through Open WebUI's flow. The peers live in `tests/peers/relying_parties/` (npm) and
//! `tests/peers/authlib/` (PyPI), installed on first use.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bouncer::clock::Clock;
use bouncer::provider::clients::{self, NewClient};
use serde_json::{json, Value};

use crate::helpers::*;

const EMAIL: &str = "grace@example.com";
const CALLBACK: &str = "https://chat.example.com/oauth/openid/callback";
const LOGGED_OUT: &str = "https://chat.example.com/login";

fn rp_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/relying_parties");
        if !dir.join("node_modules/openid-client").is_dir() {
            let status = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .expect("npm runs (the relying-party peers need Node.js and npm)");
            assert!(
                status.success(),
                "npm ci in tests/peers/relying_parties failed"
            );
        }
        dir
    })
}

/// Runs a peer script with one JSON argument; its exit status and the JSON it printed.
async fn run_peer(program: &Path, script: &Path, input: &Value) -> (bool, Value) {
    let output = tokio::process::Command::new(program)
        .arg(script)
        .arg(input.to_string())
        .output()
        .await
        .expect("the peer runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let value = serde_json::from_str(last).unwrap_or_else(|_| {
        json!({
            "stdout": stdout,
            "stderr": String::from_utf8_lossy(&output.stderr),
        })
    });
    (output.status.success(), value)
}

async fn node(script: &str, input: &Value) -> (bool, Value) {
    run_peer(Path::new("node"), &rp_dir().join(script), input).await
}

/// A provider with one user (a second one, so this one is a plain USER) and a client.
async fn provider(id: &str, public: bool) -> (TestApp, Option<String>, String) {
    let app = spawn_app_at_own_origin(&[]).await;
    assert_eq!(
        app.register("Admin", "admin@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.register("Grace Hopper", EMAIL, PASSWORD).await.status(),
        200
    );
    let db = app.db().await;
    sqlx::query("UPDATE users SET email_verified = 1")
        .execute(&db)
        .await
        .unwrap();
    let (user_id,): (String,) = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(EMAIL)
        .fetch_one(&db)
        .await
        .unwrap();
    let (_, secret) = clients::add(
        &app.ctx.db,
        NewClient {
            id: id.into(),
            name: id.into(),
            public,
            first_party: true,
            redirect_uris: vec![CALLBACK.into()],
            post_logout_redirect_uris: vec![LOGGED_OUT.into()],
            audiences: vec![],
        },
        app.clock.now_ms(),
    )
    .await
    .unwrap();
    app.ctx.provider.clients.forget_cached();
    (app, secret, user_id)
}

/// One LibreChat configuration through discovery, sign-in, code exchange, userinfo, refresh
/// and the end-session URL.
async fn librechat_mode(mode: &str) {
    let (app, secret, user_id) = provider("librechat", mode == "pkce").await;
    let (ok, out) = node(
        "rp.mjs",
        &json!({
            "issuer": app.base,
            "clientId": "librechat",
            "secret": secret,
            "redirectUri": CALLBACK,
            "mode": mode,
            "email": EMAIL,
            "password": PASSWORD,
            "postLogoutRedirectUri": LOGGED_OUT,
        }),
    )
    .await;
    assert!(ok, "{mode}: {out}");
    let claims = &out["claims"];
    assert_eq!(claims["sub"], user_id.as_str(), "{mode}");
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["email"], EMAIL);
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Grace Hopper");
    assert_eq!(claims["roles"], json!(["user"]));
    assert_eq!(out["callback_iss"], app.base.as_str(), "RFC 9207 iss");
    assert_eq!(
        out["token_type"].as_str().map(str::to_lowercase).as_deref(),
        Some("bearer")
    );
    assert_eq!(out["userinfo"]["sub"], user_id.as_str());
    assert_eq!(out["userinfo"]["email"], EMAIL);
    assert!(out["refreshed_has_id_token"].as_bool().unwrap());
    let (first, second) = (
        out["refresh_token"].as_str().unwrap(),
        out["refreshed_refresh_token"].as_str().unwrap(),
    );
    assert_ne!(first, second, "the refresh token rotated");
    let end = url::Url::parse(out["end_session_url"].as_str().unwrap()).unwrap();
    assert!(end.as_str().starts_with(&app.url("/oidc/logout")));
    let q: std::collections::HashMap<_, _> = end.query_pairs().into_owned().collect();
    assert_eq!(
        q.get("post_logout_redirect_uri").map(String::as_str),
        Some(LOGGED_OUT)
    );
    assert!(q.contains_key("id_token_hint"));

    // The rotated token, past the grace, is theft: refused, and the grant is gone.
    app.clock.advance_ms(11_000);
    let refresh = |token: &str| {
        let mut r = app.bare.post(app.url("/oidc/token"));
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
        match secret.as_deref() {
            Some(s) => r = r.basic_auth("librechat", Some(s)),
            None => form.push(("client_id", "librechat")),
        }
        r.form(&form).send()
    };
    assert_eq!(refresh(first).await.unwrap().status(), 400);
    assert_eq!(refresh(second).await.unwrap().status(), 400);

    // Following the end-session URL signs out and returns to the app.
    let r = app.bare.get(end.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("{LOGGED_OUT}?state=signed-out")
    );
}

#[tokio::test]
async fn openid_client_with_client_secret_basic() {
    librechat_mode("basic").await;
}

#[tokio::test]
async fn openid_client_with_client_secret_post_and_a_nonce() {
    librechat_mode("post").await;
}

#[tokio::test]
async fn openid_client_as_a_public_client_with_pkce() {
    librechat_mode("pkce").await;
}

#[tokio::test]
async fn passport_jwt_with_jwks_rsa_accepts_the_tokens_as_librechat_does() {
    let (app, secret, user_id) = provider("librechat", false).await;
    let (ok, out) = node(
        "rp.mjs",
        &json!({
            "issuer": app.base, "clientId": "librechat", "secret": secret,
            "redirectUri": CALLBACK, "mode": "basic", "email": EMAIL, "password": PASSWORD,
            "postLogoutRedirectUri": LOGGED_OUT,
        }),
    )
    .await;
    assert!(ok, "{out}");
    let access = out["access_token"].as_str().unwrap().to_string();
    let jwks_uri = app.url("/oidc/jwks");
    let verify = |token: String, audience: &str| {
        let input = json!({ "jwksUri": jwks_uri, "audience": audience, "token": token });
        async move { node("verify_token.mjs", &input).await }
    };
    let (ok, payload) = verify(access.clone(), "librechat").await;
    assert!(ok, "{payload}");
    assert_eq!(payload["sub"], user_id.as_str());
    assert_eq!(payload["client_id"], "librechat");
    let (ok, refused) = verify(access.clone(), "another-app").await;
    assert!(!ok, "another audience is refused: {refused}");
    // A character in the middle of the signature (the last one may carry only padding bits).
    let at = access.rfind('.').unwrap() + 20;
    let flipped = if &access[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &access[..at], &access[at + 1..]);
    let (ok, _) = verify(tampered, "librechat").await;
    assert!(!ok, "a tampered signature is refused");
}

#[tokio::test]
async fn authlib_through_open_webuis_flow() {
    let (app, secret, user_id) = provider("open-webui", false).await;
    // Open WebUI stores the picture it fetches with the access token.
    sqlx::query("UPDATE users SET avatar = NULL WHERE email = $1")
        .bind(EMAIL)
        .execute(&app.db().await)
        .await
        .unwrap();
    let python = crate::mail_peers::python();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/authlib/openwebui_flow.py");
    let (ok, out) = run_peer(
        python,
        &script,
        &json!({
            "issuer": app.base, "client_id": "open-webui", "client_secret": secret,
            "redirect_uri": CALLBACK, "email": EMAIL, "password": PASSWORD,
        }),
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out["token_type"], "Bearer");
    assert_eq!(out["claims"]["sub"], user_id.as_str());
    assert_eq!(out["claims"]["email"], EMAIL);
    assert_eq!(out["claims"]["name"], "Grace Hopper");
    assert_eq!(out["userinfo"]["email"], EMAIL);
    let picture = out["picture"].as_str().expect("a picture URL");
    assert!(picture.starts_with(&app.base), "{picture}");
    assert_eq!(out["picture_status"], 200, "fetched with the access token");
}
