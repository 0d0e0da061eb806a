//! OpenID Connect against a real provider (oidc-provider), with the browser's redirects driven
//! by hand: `/oauth/openid` → the provider's login and consent → the callback → `DOMAIN_CLIENT`.

use serde_json::Value;

use crate::helpers::*;
use crate::log_capture::{capture, logged};
use crate::oidc_peer::*;

const SESSION_SECRET: &str = "openid-session-secret-0123456789abcdef";

fn vars<'a>(peer: &'a OidcPeer, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    capture();
    let mut v = vec![
        ("ALLOW_SOCIAL_LOGIN", "true"),
        ("OPENID_CLIENT_ID", "bouncer"),
        ("OPENID_CLIENT_SECRET", "bouncer-client-secret"),
        ("OPENID_ISSUER", peer.issuer.as_str()),
        ("OPENID_SESSION_SECRET", SESSION_SECRET),
        ("OPENID_CALLBACK_URL", CALLBACK),
        ("DOMAIN_CLIENT", "http://chat.test"),
    ];
    for (k, value) in extra {
        v.retain(|(name, _)| name != k);
        v.push((k, value));
    }
    v
}

const AUTH_FAILED: &str = "http://chat.test/login?redirect=false&error=auth_failed";

/// `/oauth/openid` in the browser: the provider's authorization URL.
async fn start(app: &TestApp) -> String {
    let response = app
        .browser
        .get(app.url("/oauth/openid"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let to = location(&response);
    assert!(
        !to.starts_with("http://chat.test"),
        "expected the provider, got {to}"
    );
    to
}

/// The provider's callback URL, delivered to the app.
async fn callback(app: &TestApp, provider_callback: &str) -> reqwest::Response {
    let path = provider_callback
        .strip_prefix("http://bouncer.test")
        .unwrap();
    app.browser.get(app.url(path)).send().await.unwrap()
}

/// A whole sign-in as `account`; returns the app's final answer.
async fn sign_in(app: &TestApp, account: &str) -> reqwest::Response {
    let authorization = start(app).await;
    let back = sign_in_at_provider(&authorization, account).await;
    callback(app, &back).await
}

#[tokio::test]
async fn code_flow_provisions_the_user_then_finds_them_again() {
    let peer = OidcPeer::start().await;
    let app = spawn_app_with(&vars(
        &peer,
        &[
            ("OPENID_BUTTON_LABEL", "Sign in with Company SSO"),
            ("OPENID_IMAGE_URL", "https://sso.example.com/logo.svg"),
            ("OPENID_AUTO_REDIRECT", "true"),
        ],
    ))
    .await;

    let config: Value = app
        .bare
        .get(app.url("/api/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["openidLoginEnabled"], true);
    assert_eq!(config["openidLabel"], "Sign in with Company SSO");
    assert_eq!(config["openidImageUrl"], "https://sso.example.com/logo.svg");
    assert_eq!(config["openidAutoRedirect"], true);
    assert_eq!(config["socialLoginEnabled"], true);

    let authorization = start(&app).await;
    assert!(
        authorization.starts_with(&format!("{}/auth?", peer.issuer)),
        "{authorization}"
    );
    for part in [
        "response_type=code",
        "client_id=bouncer",
        "state=",
        "nonce=",
        "scope=openid",
    ] {
        assert!(
            authorization.contains(part),
            "{part} missing in {authorization}"
        );
    }
    assert!(
        !authorization.contains("code_challenge"),
        "no PKCE unless asked"
    );

    let back = sign_in_at_provider(&authorization, "alice").await;
    let done = callback(&app, &back).await;
    assert_eq!(done.status(), 302);
    assert_eq!(location(&done), "http://chat.test");
    assert!(
        cookie_value(done.headers(), "refreshToken").is_some(),
        "cookies as a login"
    );

    let session = app.refreshed_in_browser().await;
    let user = &session["user"];
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["provider"], "openid");
    assert_eq!(user["username"], "alice");
    assert_eq!(user["name"], "Alice Example");
    assert_eq!(
        user["role"], "USER",
        "external users never become ADMIN by being first"
    );
    let id = user["id"].as_str().unwrap().to_string();

    // ALLOW_SOCIAL_REGISTRATION is off, and still: OpenID provisions (LibreChat's rule).
    // The second sign-in finds the same user by subject.
    let again = sign_in(&app, "alice").await;
    assert_eq!(location(&again), "http://chat.test");
    assert_eq!(app.refreshed_in_browser().await["user"]["id"], id.as_str());
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 1);
}

#[tokio::test]
async fn pkce_with_a_public_client_and_no_secret() {
    let peer = OidcPeer::start().await;
    let app = spawn_app_with(&vars(
        &peer,
        &[
            ("OPENID_CLIENT_ID", "bouncer-pkce"),
            ("OPENID_CLIENT_SECRET", ""),
            ("OPENID_USE_PKCE", "true"),
        ],
    ))
    .await;
    let authorization = start(&app).await;
    assert!(
        authorization.contains("code_challenge_method=S256"),
        "{authorization}"
    );
    let back = sign_in_at_provider(&authorization, "alice").await;
    let done = callback(&app, &back).await;
    assert_eq!(location(&done), "http://chat.test");
}

#[tokio::test]
async fn a_tampered_nonce_a_missing_state_cookie_and_a_provider_error_fail() {
    let peer = OidcPeer::start().await;
    let app = spawn_app_with(&vars(&peer, &[])).await;

    let authorization = start(&app).await;
    let mut url = url::Url::parse(&authorization).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let value = if k == "nonce" {
                "attacker-nonce".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), value)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let back = sign_in_at_provider(url.as_str(), "alice").await;
    assert_eq!(
        location(&callback(&app, &back).await),
        AUTH_FAILED,
        "nonce mismatch"
    );
    assert!(logged(&["ID token was refused", "nonce"]));

    // A callback without the state cookie (another browser, or a forged link).
    let authorization = start(&app).await;
    let back = sign_in_at_provider(&authorization, "alice").await;
    let path = back.strip_prefix("http://bouncer.test").unwrap();
    let forged = app.bare.get(app.url(path)).send().await.unwrap();
    assert_eq!(location(&forged), AUTH_FAILED, "bad state");
    assert!(logged(&["provider=\"openid\"", "bad state"]));

    let denied = app
        .browser
        .get(app.url("/oauth/openid/callback?error=access_denied&state=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&denied), AUTH_FAILED);
    assert!(logged(&["answered with an error: access_denied"]));
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 0);
}

#[tokio::test]
async fn an_expired_id_token_fails() {
    let peer = OidcPeer::start().await;
    let app = spawn_app_with(&vars(&peer, &[])).await;
    // The app's clock runs an hour and 360 s ahead of the provider's: the ID token (an hour of
    // life, 300 s of tolerance) the provider issues within the next minute is expired in the
    // app's eyes (a margin of one second made this fail on a loaded machine). The flow itself
    // (state cookie) starts at the app's time, so only the token is late.
    app.clock.advance_ms(3600 * 1000 + 360 * 1000);
    let authorization = start(&app).await;
    let back = sign_in_at_provider(&authorization, "alice").await;
    assert_eq!(location(&callback(&app, &back).await), AUTH_FAILED);
    assert!(logged(&["ID token was refused", "expired"]));
}

#[tokio::test]
async fn a_wrong_issuer_fails_discovery() {
    let peer = OidcPeer::start().await;
    // Same server, but not the name it gives itself.
    let wrong = peer.issuer.replace("127.0.0.1", "localhost");
    let app = spawn_app_with(&vars(&peer, &[("OPENID_ISSUER", wrong.as_str())])).await;
    let response = app
        .browser
        .get(app.url("/oauth/openid"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), AUTH_FAILED);
    assert!(logged(&["discovery failed", "issuer"]));
}

#[tokio::test]
async fn required_role_and_admin_role() {
    let peer = OidcPeer::start().await;
    let app = spawn_app_with(&vars(
        &peer,
        &[
            ("OPENID_REQUIRED_ROLE", "chat-user"),
            ("OPENID_REQUIRED_ROLE_PARAMETER_PATH", "realm_access.roles"),
            ("OPENID_ADMIN_ROLE", "chat-admin"),
        ],
    ))
    .await;
    assert_eq!(
        location(&sign_in(&app, "bob").await),
        AUTH_FAILED,
        "bob has no role"
    );
    assert!(logged(&["role missing", "chat-user", "realm_access.roles"]));
    assert_eq!(location(&sign_in(&app, "alice").await), "http://chat.test");
    assert_eq!(app.refreshed_in_browser().await["user"]["role"], "USER");
    assert_eq!(location(&sign_in(&app, "admin").await), "http://chat.test");
    assert_eq!(app.refreshed_in_browser().await["user"]["role"], "ADMIN");
}

#[tokio::test]
async fn logout_returns_the_end_session_url() {
    let peer = OidcPeer::start().await;
    let app = spawn_app_with(&vars(&peer, &[("OPENID_USE_END_SESSION_ENDPOINT", "true")])).await;
    assert_eq!(location(&sign_in(&app, "alice").await), "http://chat.test");
    let token = app.refreshed_in_browser().await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let response = app
        .browser
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Logout successful");
    let redirect = url::Url::parse(body["redirect"].as_str().unwrap()).unwrap();
    assert!(
        redirect
            .as_str()
            .starts_with(&format!("{}/session/end", peer.issuer)),
        "{redirect}"
    );
    let query: std::collections::HashMap<_, _> = redirect.query_pairs().into_owned().collect();
    assert_eq!(query["post_logout_redirect_uri"], "http://chat.test/login");
    assert_eq!(query["client_id"], "bouncer");

    // A local user's logout has no redirect.
    let s = app.signed_in_user("local@example.com").await;
    let body: Value = app
        .bare
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body.get("redirect").is_none());
}

#[tokio::test]
async fn an_email_owned_by_a_local_account_is_refused_unless_linking_is_allowed() {
    let peer = OidcPeer::start().await;
    let app = spawn_app_with(&vars(&peer, &[])).await;
    let local = app.signed_in_user("alice@example.com").await;
    assert_eq!(
        location(&sign_in(&app, "alice").await),
        AUTH_FAILED,
        "provider mismatch"
    );
    assert!(logged(&["provider mismatch", "alice@example.com", "local"]));
    assert_eq!(
        location(&sign_in(&app, "noemail").await),
        AUTH_FAILED,
        "no email"
    );
    assert!(logged(&["gave no email address"]));

    let app2 = spawn_app_with(&vars(&peer, &[("OPENID_ALLOW_ACCOUNT_LINKING", "true")])).await;
    let local2 = app2.signed_in_user("alice@example.com").await;
    assert_eq!(location(&sign_in(&app2, "alice").await), "http://chat.test");
    assert_eq!(
        app2.refreshed_in_browser().await["user"]["id"],
        local2.user_id.as_str(),
        "bound to the same account"
    );
    let _ = local;
}

#[tokio::test]
async fn an_issuer_that_is_down_at_start_is_discovered_once_it_is_up() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let issuer = format!("http://127.0.0.1:{port}");
    capture();
    let app = spawn_app_with(&[
        ("ALLOW_SOCIAL_LOGIN", "true"),
        ("OPENID_CLIENT_ID", "bouncer"),
        ("OPENID_CLIENT_SECRET", "bouncer-client-secret"),
        ("OPENID_ISSUER", issuer.as_str()),
        ("OPENID_SESSION_SECRET", SESSION_SECRET),
        ("OPENID_CALLBACK_URL", CALLBACK),
        ("DOMAIN_CLIENT", "http://chat.test"),
    ])
    .await;
    let down = app
        .browser
        .get(app.url("/oauth/openid"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&down), AUTH_FAILED);
    assert!(logged(&[
        "discovery failed",
        &issuer.replace("http://", "")
    ]));

    let _peer = OidcPeer::start_on(port).await;
    assert_eq!(location(&sign_in(&app, "alice").await), "http://chat.test");
}

#[tokio::test]
async fn require_2fa_does_not_confine_openid_users() {
    let peer = OidcPeer::start().await;
    let app = spawn_app_with(&vars(&peer, &[("REQUIRE_2FA", "true")])).await;
    assert_eq!(location(&sign_in(&app, "alice").await), "http://chat.test");
    let token = app.refreshed_in_browser().await["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.get_user(&token).await.status(), 200);
}
