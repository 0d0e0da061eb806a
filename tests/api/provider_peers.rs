//! Bouncer's OpenID provider against real relying parties: openid-client 6 configured as
//! LibreChat configures it (client_secret_basic; client_secret_post with a nonce; a public
//! client with PKCE), passport-jwt checking access tokens as LibreChat's openIdJwtStrategy
//! does, and Authlib's OAuth2Session doing Open WebUI's flow. The peers live in
//! `tests/peers/relying_parties/` (Node, installed once with `npm ci`) and
//! `tests/peers/authlib/` (Python, a virtual environment made once under Cargo's test folder);
//! each does the browser's part itself (sign-in page, consent page, redirects) and prints JSON.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use bouncer::clock::Clock;
use bouncer::provider::clients::{self, NewClient};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

use crate::helpers::*;

/// How long a peer may take for one step before the test fails (a bound, not a timing
/// assertion: a first run compiles nothing but may be slow on a loaded machine).
const PEER_WAIT: Duration = Duration::from_secs(90);

const LIBRECHAT_CALLBACK: &str = "https://librechat.example.com/oauth/openid/callback";
const LIBRECHAT_LOGGED_OUT: &str = "https://librechat.example.com/login";
const OPEN_WEBUI_CALLBACK: &str = "https://openwebui.example.com/oauth/oidc/callback";
const AVATAR: &str = "https://images.example.com/grace.png";
const ADMIN_EMAIL: &str = "root@example.com";
const USER_EMAIL: &str = "grace@example.com";

fn peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// Whether `program --version` runs.
fn runs(program: &Path) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `tests/peers/relying_parties/` with its packages (`npm ci` the first time), or `None` when
/// Node.js is missing (a skip; a failure under CI).
fn relying_parties(test: &str) -> Option<&'static Path> {
    if !runs(Path::new("node")) || !runs(Path::new("npm")) {
        skip(test, "node and npm are not installed");
        return None;
    }
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    Some(DIR.get_or_init(|| {
        let dir = peers().join("relying_parties");
        let installed = ["openid-client", "passport-jwt", "jwks-rsa"]
            .iter()
            .all(|p| dir.join("node_modules").join(p).is_dir());
        if !installed {
            let status = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .expect("npm runs");
            assert!(
                status.success(),
                "npm ci in tests/peers/relying_parties failed"
            );
        }
        dir
    }))
}

/// A Python with Authlib and requests (the suite's one virtual environment for Python peers,
/// [`crate::mail_peers::python`]); `None` when Python 3 is missing.
fn authlib_python(test: &str) -> Option<&'static Path> {
    if !runs(Path::new("python3")) {
        skip(test, "python3 is not installed");
        return None;
    }
    Some(crate::mail_peers::python())
}

/// The provider's app with two verified accounts: the first, ADMIN, and a USER. Returns the
/// app and the ids of both.
async fn provider_app() -> (TestApp, String, String) {
    let app = spawn_app_at_own_origin(&[]).await;
    let admin = verified_user(&app, "Root Admin", "root", ADMIN_EMAIL).await;
    let user = verified_user(&app, "Grace Hopper", "grace", USER_EMAIL).await;
    (app, admin, user)
}

/// Registers `name` with a username (the `preferred_username` claim) and marks the address
/// verified; returns the user's id.
async fn verified_user(app: &TestApp, name: &str, username: &str, email: &str) -> String {
    let (status, body) = app
        .register_json(&json!({
            "name": name, "username": username, "email": email,
            "password": PASSWORD, "confirm_password": PASSWORD
        }))
        .await;
    assert_eq!(status, 200, "{body}");
    let db = app.db().await;
    sqlx::query("UPDATE users SET email_verified = 1 WHERE email = $1")
        .bind(email)
        .execute(&db)
        .await
        .unwrap();
    let (id,): (String,) = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&db)
        .await
        .unwrap();
    id
}

/// Registers a relying party; returns its secret (`None` for a public client).
async fn register_client(
    app: &TestApp,
    id: &str,
    public: bool,
    first_party: bool,
    redirect_uri: &str,
) -> Option<String> {
    let (client, secret) = clients::add(
        &app.ctx.db,
        NewClient {
            id: id.into(),
            name: format!("App {id}"),
            public,
            first_party,
            redirect_uris: vec![redirect_uri.into()],
            post_logout_redirect_uris: vec![LIBRECHAT_LOGGED_OUT.into()],
            audiences: vec![],
        },
        app.clock.now_ms(),
    )
    .await
    .expect("the client registers");
    assert_eq!(client.id, id);
    assert_eq!(
        secret.is_none(),
        public,
        "a secret for confidential clients only"
    );
    // The registry caches lookups for a few seconds; the test cannot wait.
    app.ctx.provider.clients.forget_cached();
    secret
}

/// The next JSON line of a peer; panics with what it printed when it has none.
async fn next_json(lines: &mut Lines<BufReader<ChildStdout>>, what: &str) -> Value {
    let line = tokio::time::timeout(PEER_WAIT, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer in time"))
        .unwrap()
        .unwrap_or_else(|| panic!("{what}: the peer ended without a line"));
    let value: Value =
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("{what} printed: {line}"));
    assert_ne!(value["step"], "error", "{what} failed: {value:#}");
    value
}

/// What the openid-client relying party reported: after its refresh grant, and at the end
/// (the rotated refresh token presented again past the reuse grace, then the logout).
struct RpRun {
    refreshed: Value,
    done: Value,
}

/// Runs `openid_client_rp.mjs` in `mode` for `client_id`, signing in as `email`.
async fn run_openid_client(
    app: &TestApp,
    dir: &Path,
    mode: &str,
    client_id: &str,
    secret: Option<&str>,
    scope: &str,
    email: &str,
) -> RpRun {
    let input = json!({
        "issuer": app.base,
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uri": LIBRECHAT_CALLBACK,
        "post_logout_redirect_uri": LIBRECHAT_LOGGED_OUT,
        "scope": scope,
        "mode": mode,
        "email": email,
        "password": PASSWORD,
    });
    let mut child = Command::new("node")
        .arg("openid_client_rp.mjs")
        .arg(input.to_string())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts the relying party");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let what = format!("openid-client ({mode})");
    let refreshed = next_json(&mut lines, &what).await;
    assert_eq!(refreshed["step"], "refreshed", "{refreshed:#}");
    // Past the grace in which a rotated refresh token is still taken (a retry after a lost
    // answer): from now on presenting it again is reuse.
    app.clock.advance_ms(11_000);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").await.unwrap();
    stdin.flush().await.unwrap();
    let done = next_json(&mut lines, &what).await;
    assert_eq!(done["step"], "done", "{done:#}");
    let status = tokio::time::timeout(PEER_WAIT, child.wait())
        .await
        .expect("the relying party exits")
        .unwrap();
    assert!(status.success(), "{what} exited with {status}");
    RpRun { refreshed, done }
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// What every openid-client run must show, whatever its mode.
fn assert_common(app: &TestApp, run: &RpRun, client_id: &str, user_id: &str, email: &str) {
    let r = &run.refreshed;
    // Discovery names the issuer and the endpoints of the contract.
    assert_eq!(r["issuer"], app.base);
    for (name, path) in [
        ("authorization", "/oidc/authorize"),
        ("token", "/oidc/token"),
        ("userinfo", "/oidc/userinfo"),
        ("jwks", "/oidc/jwks"),
        ("end_session", "/oidc/logout"),
    ] {
        assert_eq!(r["endpoints"][name], app.url(path), "{name} endpoint");
    }
    let callback = r["callback"].as_str().unwrap();
    assert!(callback.starts_with(LIBRECHAT_CALLBACK), "{callback}");
    assert_eq!(
        query_param(callback, "iss").as_deref(),
        Some(app.base.as_str())
    );
    assert!(query_param(callback, "code").is_some());
    assert_eq!(
        r["token_type"].as_str().map(str::to_lowercase).as_deref(),
        Some("bearer")
    );

    // The ID token, validated by openid-client (signature, iss, aud, exp, nonce when sent).
    let claims = &r["claims"];
    assert_eq!(claims["sub"], user_id, "sub is the user's id");
    assert_eq!(claims["iss"], app.base);
    assert_eq!(claims["email"], email);
    assert_eq!(claims["email_verified"], true);
    let aud = &claims["aud"];
    assert!(
        aud == client_id
            || aud
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == client_id)),
        "aud {aud}"
    );
    let header = jsonwebtoken::decode_header(r["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);

    // The access token: a JWT for this client.
    let access = r["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(access).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let at = jwt_payload(access);
    assert_eq!(at["sub"], user_id);
    assert_eq!(at["client_id"], client_id);
    assert!(
        at["aud"] == client_id
            || at["aud"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(client_id)))
    );
    for claim in ["scope", "exp", "iat", "jti"] {
        assert!(!at[claim].is_null(), "access token has {claim}: {at}");
    }

    // Userinfo, fetched by openid-client with the expected subject.
    assert_eq!(r["userinfo"]["sub"], user_id);
    assert_eq!(r["userinfo"]["email"], email);

    // The refresh grant rotated the refresh token and issued new tokens for the same user.
    let first = r["refresh_token"].as_str().expect("a refresh token");
    let renewed = &r["refreshed"];
    let second = renewed["refresh_token"]
        .as_str()
        .expect("a rotated refresh token");
    assert_ne!(first, second, "the refresh token rotates");
    assert_ne!(renewed["access_token"], r["access_token"]);
    assert!(renewed["id_token"].is_string(), "a new ID token: {renewed}");
    assert_eq!(renewed["claims"]["sub"], user_id);

    // The rotated token again past the grace: refused, as openid-client reports it.
    let done = &run.done;
    assert_eq!(done["old_refresh_refused"], true, "{done}");
    assert_eq!(done["old_refresh_error"], "invalid_grant", "{done}");

    // The end-session URL built from discovery carries the hint and the return address...
    let end = r["end_session_url"].as_str().unwrap();
    assert!(end.starts_with(&app.url("/oidc/logout?")), "{end}");
    assert_eq!(
        query_param(end, "id_token_hint").as_deref(),
        renewed["id_token"].as_str()
    );
    assert_eq!(
        query_param(end, "post_logout_redirect_uri").as_deref(),
        Some(LIBRECHAT_LOGGED_OUT)
    );
    // ...and following it in the browser signs out there and returns to the app.
    assert_eq!(done["logout"]["status"], 303, "{done}");
    assert!(
        done["logout"]["location"]
            .as_str()
            .is_some_and(|l| l.starts_with(LIBRECHAT_LOGGED_OUT)),
        "{done}"
    );
    assert_eq!(
        done["account_after_logout"]["status"], 303,
        "signed out of the pages: {done}"
    );
    assert!(
        done["account_after_logout"]["location"]
            .as_str()
            .is_some_and(|l| l.contains("/ui/login")),
        "{done}"
    );
}

#[tokio::test]
async fn librechat_openid_client_with_client_secret_basic() {
    let test = "librechat_openid_client_with_client_secret_basic";
    let Some(dir) = relying_parties(test) else {
        return;
    };
    let (app, _admin, user) = provider_app().await;
    let secret = register_client(&app, "librechat", false, true, LIBRECHAT_CALLBACK).await;
    // LibreChat's default OPENID_SCOPE.
    let run = run_openid_client(
        &app,
        dir,
        "basic",
        "librechat",
        secret.as_deref(),
        "openid profile email",
        USER_EMAIL,
    )
    .await;
    assert_common(&app, &run, "librechat", &user, USER_EMAIL);
    let r = &run.refreshed;
    assert_eq!(
        r["pages"],
        json!(["login"]),
        "a first-party app asks no consent"
    );
    let url = r["authorization_url"].as_str().unwrap();
    assert_eq!(query_param(url, "client_id").as_deref(), Some("librechat"));
    assert!(query_param(url, "client_secret").is_none());
    assert_eq!(r["claims"]["name"], "Grace Hopper");
    assert_eq!(r["claims"]["preferred_username"], "grace");
    assert_eq!(
        r["claims"]["roles"],
        json!(["user"]),
        "a USER has the user role only"
    );
    assert_eq!(r["userinfo"]["name"], "Grace Hopper");
}

#[tokio::test]
async fn librechat_openid_client_with_client_secret_post_and_a_nonce() {
    let test = "librechat_openid_client_with_client_secret_post_and_a_nonce";
    let Some(dir) = relying_parties(test) else {
        return;
    };
    let (app, admin, _user) = provider_app().await;
    let secret = register_client(&app, "librechat", false, true, LIBRECHAT_CALLBACK).await;
    let run = run_openid_client(
        &app,
        dir,
        "post-nonce",
        "librechat",
        secret.as_deref(),
        "openid profile email offline_access",
        ADMIN_EMAIL,
    )
    .await;
    assert_common(&app, &run, "librechat", &admin, ADMIN_EMAIL);
    let r = &run.refreshed;
    let nonce = r["nonce"].as_str().expect("a nonce was sent");
    assert_eq!(
        query_param(r["authorization_url"].as_str().unwrap(), "nonce").as_deref(),
        Some(nonce)
    );
    assert_eq!(
        r["claims"]["nonce"], nonce,
        "the ID token carries the nonce"
    );
    assert_eq!(r["claims"]["name"], "Root Admin");
    assert_eq!(
        r["claims"]["roles"],
        json!(["user", "admin"]),
        "the ADMIN has both roles"
    );
}

#[tokio::test]
async fn a_public_openid_client_with_pkce_through_the_consent_page() {
    let test = "a_public_openid_client_with_pkce_through_the_consent_page";
    let Some(dir) = relying_parties(test) else {
        return;
    };
    let (app, _admin, user) = provider_app().await;
    let secret = register_client(&app, "spa", true, false, LIBRECHAT_CALLBACK).await;
    assert!(secret.is_none());
    let run = run_openid_client(
        &app,
        dir,
        "public-pkce",
        "spa",
        None,
        "openid profile email offline_access",
        USER_EMAIL,
    )
    .await;
    assert_common(&app, &run, "spa", &user, USER_EMAIL);
    let r = &run.refreshed;
    assert_eq!(
        r["pages"],
        json!(["login", "consent"]),
        "a third-party app asks for consent after the sign-in"
    );
    let url = r["authorization_url"].as_str().unwrap();
    assert_eq!(
        query_param(url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query_param(url, "code_challenge").is_some_and(|c| c.len() == 43));
    assert_eq!(r["claims"]["roles"], json!(["user"]));
}

/// Runs `passport_jwt_verify.mjs`: `Ok(payload)` when the strategy accepts the token,
/// `Err(reason)` when it refuses it.
async fn passport_jwt(
    dir: &Path,
    jwks_uri: &str,
    audience: &str,
    token: &str,
) -> Result<Value, String> {
    let input = json!({ "jwks_uri": jwks_uri, "audience": audience, "token": token });
    let output = tokio::time::timeout(
        PEER_WAIT,
        Command::new("node")
            .arg("passport_jwt_verify.mjs")
            .arg(input.to_string())
            .current_dir(dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("passport-jwt answers in time")
    .expect("node runs passport-jwt");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let outcome: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "passport-jwt printed {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    match output.status.code() {
        Some(0) => {
            assert_eq!(outcome["accepted"], true);
            Ok(outcome["payload"].clone())
        }
        Some(2) => Err(outcome["reason"].as_str().unwrap_or_default().to_string()),
        _ => panic!("passport-jwt failed: {outcome}"),
    }
}

/// A JWT whose payload was changed after signing (here: another subject).
fn tampered(token: &str) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload = jwt_payload(token);
    payload["sub"] = json!("someone-else");
    let forged = engine.encode(serde_json::to_vec(&payload).unwrap());
    format!("{}.{forged}.{}", parts[0], parts[2])
}

#[tokio::test]
async fn passport_jwt_as_librechat_accepts_the_access_token_for_its_audience_only() {
    let test = "passport_jwt_as_librechat_accepts_the_access_token_for_its_audience_only";
    let Some(dir) = relying_parties(test) else {
        return;
    };
    let (app, _admin, user) = provider_app().await;
    let secret = register_client(&app, "librechat", false, true, LIBRECHAT_CALLBACK).await;
    let other_secret = register_client(&app, "other-app", false, true, LIBRECHAT_CALLBACK).await;
    let run = run_openid_client(
        &app,
        dir,
        "basic",
        "librechat",
        secret.as_deref(),
        "openid profile email",
        USER_EMAIL,
    )
    .await;
    let other = run_openid_client(
        &app,
        dir,
        "basic",
        "other-app",
        other_secret.as_deref(),
        "openid profile email",
        USER_EMAIL,
    )
    .await;
    let jwks_uri = run.refreshed["endpoints"]["jwks"].as_str().unwrap();
    // The access token of the refresh grant: the first one's grant ended with the reuse
    // detection, but passport-jwt checks only the token itself, as LibreChat does.
    let good = run.refreshed["access_token"].as_str().unwrap();

    let payload = passport_jwt(dir, jwks_uri, "librechat", good)
        .await
        .expect("passport-jwt accepts LibreChat's own access token");
    assert_eq!(payload["sub"], user);
    assert_eq!(payload["client_id"], "librechat");
    assert_eq!(payload["iss"], app.base);

    // A real token of the same provider, issued to another app.
    let foreign = other.refreshed["access_token"].as_str().unwrap();
    assert!(passport_jwt(dir, jwks_uri, "other-app", foreign)
        .await
        .is_ok());
    let refused = passport_jwt(dir, jwks_uri, "librechat", foreign).await;
    assert!(
        refused.as_ref().is_err_and(|r| r.contains("audience")),
        "another app's token is refused for its audience: {refused:?}"
    );

    let refused = passport_jwt(dir, jwks_uri, "librechat", &tampered(good)).await;
    assert!(
        refused.as_ref().is_err_and(|r| r.contains("signature")),
        "a changed payload is refused: {refused:?}"
    );
}

/// Runs `authlib_rp.py` (Open WebUI's flow) for the client `open-webui`, signing in as the
/// USER; returns what it reported.
async fn run_authlib(app: &TestApp, python: &Path, secret: Option<&str>) -> Value {
    let input = json!({
        "issuer": app.base,
        "client_id": "open-webui",
        "client_secret": secret,
        "redirect_uri": OPEN_WEBUI_CALLBACK,
        "email": USER_EMAIL,
        "password": PASSWORD,
    });
    let output = tokio::time::timeout(
        PEER_WAIT,
        Command::new(python)
            .arg(peers().join("authlib/authlib_rp.py"))
            .arg(input.to_string())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("Authlib answers in time")
    .expect("python runs Authlib");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let r: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "Authlib printed {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(
        output.status.success() && r["ok"] == true,
        "Authlib failed: {r:#}"
    );
    let callback = r["callback"].as_str().unwrap();
    assert_eq!(
        query_param(callback, "iss").as_deref(),
        Some(app.base.as_str())
    );
    assert_eq!(r["pages"], json!(["login"]));
    assert_eq!(r["token_type"], "Bearer");
    assert_eq!(r["id_token_alg"], "RS256");
    assert_eq!(r["picture_is_url"], true, "picture {}", r["picture"]);
    r
}

#[tokio::test]
async fn open_webui_authlib_client_secret_basic() {
    let test = "open_webui_authlib_client_secret_basic";
    let Some(python) = authlib_python(test) else {
        return;
    };
    let (app, _admin, user) = provider_app().await;
    let secret = register_client(&app, "open-webui", false, true, OPEN_WEBUI_CALLBACK).await;
    let r = run_authlib(&app, python, secret.as_deref()).await;
    // Validated by Authlib's CodeIDToken: iss, aud, exp, iat, nonce, at_hash.
    let claims = &r["claims"];
    assert_eq!(claims["sub"], user);
    assert_eq!(claims["email"], USER_EMAIL);
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Grace Hopper");
    assert_eq!(claims["preferred_username"], "grace");
    assert_eq!(claims["roles"], json!(["user"]));
    assert_eq!(r["userinfo"]["sub"], user);
    assert_eq!(r["userinfo"]["email"], USER_EMAIL);
    // No avatar: the provider's picture of the initials, which Open WebUI downloads with the
    // access token.
    let picture = r["picture"].as_str().expect("a picture claim");
    assert!(picture.starts_with(&format!("{}/", app.base)), "{picture}");
    let fetched = &r["picture_fetched"];
    assert_eq!(fetched["status"], 200, "{fetched}");
    assert_eq!(fetched["content_type"], "image/svg+xml");
    assert!(
        fetched["body"].as_str().unwrap().contains(">GH<"),
        "{fetched}"
    );
    assert_eq!(fetched["status_without_token"], 401, "{fetched}");
}

#[tokio::test]
async fn open_webui_authlib_takes_the_users_own_avatar_as_picture() {
    let test = "open_webui_authlib_takes_the_users_own_avatar_as_picture";
    let Some(python) = authlib_python(test) else {
        return;
    };
    let (app, _admin, user) = provider_app().await;
    let db = app.db().await;
    sqlx::query("UPDATE users SET avatar = $1 WHERE id = $2")
        .bind(AVATAR)
        .bind(&user)
        .execute(&db)
        .await
        .unwrap();
    let secret = register_client(&app, "open-webui", false, true, OPEN_WEBUI_CALLBACK).await;
    let r = run_authlib(&app, python, secret.as_deref()).await;
    assert_eq!(r["claims"]["sub"], user);
    assert_eq!(r["picture"], AVATAR);
    assert_eq!(r["userinfo"]["picture"], AVATAR);
}
