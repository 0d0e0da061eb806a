//! Social sign-in (Google, GitHub Enterprise, Discord, Facebook, Apple) against a stand-in for
//! the providers' servers, with the browser's redirects driven by hand.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::log_capture::{capture, logged};
use crate::social_peer::*;

const AUTH_FAILED: &str = "http://chat.test/login?redirect=false&error=auth_failed";

async fn app_with(peer: &SocialPeer, extra: &[(&str, &str)]) -> TestApp {
    capture();
    let owned = peer.vars();
    let mut vars: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// `/oauth/<provider>` → the provider (which consents at once) → the callback, in the browser.
async fn sign_in(app: &TestApp, provider: &str) -> reqwest::Response {
    let start = app
        .browser
        .get(app.url(&format!("/oauth/{provider}")))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302, "{provider}");
    let at_provider = app.bare.get(location(&start)).send().await.unwrap();
    assert_eq!(at_provider.status(), 302);
    let back = url::Url::parse(&location(&at_provider)).unwrap();
    assert_eq!(back.path(), format!("/oauth/{provider}/callback"));
    let path = format!("{}?{}", back.path(), back.query().unwrap());
    app.browser.get(app.url(&path)).send().await.unwrap()
}

#[tokio::test]
async fn github_enterprise_registers_then_finds_the_user() {
    let peer = SocialPeer::start().await;
    peer.set_profile("github", json!({
        "id": 4242, "login": "octo", "name": "Octo Cat", "avatar_url": "https://avatars.example/octo",
        "emails": [{"email": "spare@example.com", "primary": false, "verified": true},
                   {"email": "Octo@Example.com", "primary": true, "verified": true}]
    }));
    let app = app_with(&peer, &[("ALLOW_SOCIAL_REGISTRATION", "true")]).await;

    let error = app.bare.get(app.url("/oauth/error")).send().await.unwrap();
    assert_eq!(location(&error), AUTH_FAILED, "LibreChat's failure landing");
    let config: Value = app
        .bare
        .get(app.url("/api/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in ["github", "google", "discord", "facebook", "apple"] {
        assert_eq!(config[format!("{p}LoginEnabled")], true, "{p}");
    }

    let start = app
        .browser
        .get(app.url("/oauth/github"))
        .send()
        .await
        .unwrap();
    let authorize = location(&start);
    assert!(
        authorize.starts_with(&format!("{}/login/oauth/authorize?", peer.origin)),
        "{authorize}"
    );
    assert!(
        authorize.contains("scope=user%3Aemail+read%3Auser"),
        "{authorize}"
    );

    let done = sign_in(&app, "github").await;
    assert_eq!(done.status(), 302);
    assert_eq!(location(&done), "http://chat.test");
    let user = app.refreshed_in_browser().await["user"].clone();
    assert_eq!(
        user["email"], "octo@example.com",
        "the primary verified address"
    );
    assert_eq!(user["provider"], "github");
    assert_eq!(user["username"], "octo");
    assert_eq!(user["name"], "Octo Cat");
    assert_eq!(user["avatar"], "https://avatars.example/octo");

    let (_, form) = peer
        .seen
        .lock()
        .unwrap()
        .token_requests
        .last()
        .cloned()
        .unwrap();
    assert_eq!(form["client_id"], "github-client");
    assert_eq!(
        form["redirect_uri"],
        "http://localhost:3080/oauth/github/callback"
    );

    let id = user["id"].clone();
    assert_eq!(location(&sign_in(&app, "github").await), "http://chat.test");
    assert_eq!(app.refreshed_in_browser().await["user"]["id"], id);
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 1);
}

#[tokio::test]
async fn google_discord_and_facebook_map_their_profiles() {
    let peer = SocialPeer::start().await;
    peer.set_profile(
        "google",
        json!({"sub": "g-1", "email": "ada@gmail.com", "email_verified": true,
        "given_name": "Ada", "family_name": "Lovelace", "picture": "https://pics.example/ada"}),
    );
    peer.set_profile("discord", json!({"id": "80351110224678912", "username": "nelly",
        "global_name": "Nelly", "email": "nelly@example.com", "avatar": "8342729096ea3675442027381ff50dfe"}));
    peer.set_profile(
        "facebook",
        json!({"id": "10101", "name": "Fay Book", "email": "fay@example.com",
        "picture": {"data": {"url": "https://fb.example/fay.jpg"}}}),
    );
    let app = app_with(&peer, &[("ALLOW_SOCIAL_REGISTRATION", "true")]).await;

    assert_eq!(location(&sign_in(&app, "google").await), "http://chat.test");
    let g = app.refreshed_in_browser().await["user"].clone();
    assert_eq!(
        (
            g["email"].as_str(),
            g["name"].as_str(),
            g["username"].as_str()
        ),
        (Some("ada@gmail.com"), Some("Ada Lovelace"), Some("ada"))
    );
    assert_eq!(g["provider"], "google");
    assert_eq!(g["emailVerified"], true);

    assert_eq!(
        location(&sign_in(&app, "discord").await),
        "http://chat.test"
    );
    let d = app.refreshed_in_browser().await["user"].clone();
    assert_eq!(d["name"], "Nelly");
    assert_eq!(
        d["avatar"],
        "https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png"
    );

    assert_eq!(
        location(&sign_in(&app, "facebook").await),
        "http://chat.test"
    );
    let f = app.refreshed_in_browser().await["user"].clone();
    assert_eq!(
        (f["email"].as_str(), f["provider"].as_str()),
        (Some("fay@example.com"), Some("facebook"))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 3);
}

#[tokio::test]
async fn registration_closed_provider_mismatch_linking_and_domains() {
    let peer = SocialPeer::start().await;
    peer.set_profile(
        "google",
        json!({"sub": "g-2", "email": "grace@example.com", "email_verified": true,
        "given_name": "Grace", "family_name": "Hopper"}),
    );

    // ALLOW_SOCIAL_REGISTRATION is off by default: no new users through Google.
    let app = app_with(&peer, &[]).await;
    assert_eq!(location(&sign_in(&app, "google").await), AUTH_FAILED);
    assert!(logged(&[
        "provider=\"google\"",
        "registration through google is closed"
    ]));

    // A local account owns the email: refused...
    app.signed_in_user("grace@example.com").await;
    assert_eq!(location(&sign_in(&app, "google").await), AUTH_FAILED);
    assert!(logged(&[
        "provider mismatch",
        "grace@example.com",
        "belongs to an account of provider local"
    ]));

    // ...unless linking is allowed and Google vouches for the address.
    let app = app_with(&peer, &[("GOOGLE_ALLOW_ACCOUNT_LINKING", "true")]).await;
    let local = app.signed_in_user("grace@example.com").await;
    assert_eq!(location(&sign_in(&app, "google").await), "http://chat.test");
    assert_eq!(
        app.refreshed_in_browser().await["user"]["id"],
        local.user_id.as_str()
    );

    peer.set_profile(
        "google",
        json!({"sub": "g-3", "email": "unverified@example.com", "email_verified": false}),
    );
    app.signed_in_user("unverified@example.com").await;
    assert_eq!(
        location(&sign_in(&app, "google").await),
        AUTH_FAILED,
        "no linking on an unverified address"
    );

    // registration.allowedDomains applies.
    let yaml = app.dir.path().join("librechat.yaml");
    std::fs::write(
        &yaml,
        "version: 1.2.1\nregistration:\n  allowedDomains:\n    - allowed.example\n",
    )
    .unwrap();
    let yaml_path = yaml.display().to_string();
    peer.set_profile(
        "google",
        json!({"sub": "g-4", "email": "x@elsewhere.example", "email_verified": true}),
    );
    let app = app_with(
        &peer,
        &[
            ("ALLOW_SOCIAL_REGISTRATION", "true"),
            ("CONFIG_PATH", &yaml_path),
        ],
    )
    .await;
    assert_eq!(location(&sign_in(&app, "google").await), AUTH_FAILED);
    assert!(logged(&[
        "x@elsewhere.example is not allowed by registration.allowedDomains"
    ]));
}

#[tokio::test]
async fn apple_posts_back_and_its_id_token_is_verified() {
    let peer = SocialPeer::start().await;
    peer.set_profile("apple", json!({"sub": "001234.abcd", "email": "Anna@privaterelay.appleid.com", "email_verified": "true"}));
    let app = app_with(&peer, &[("ALLOW_SOCIAL_REGISTRATION", "true")]).await;

    let start = app.bare.get(app.url("/oauth/apple")).send().await.unwrap();
    assert_eq!(start.status(), 302);
    let state_cookie = set_cookie_line(start.headers(), "bouncer_oauth_state").unwrap();
    assert!(
        has_flag(&state_cookie, "Secure") && state_cookie.contains("SameSite=None"),
        "{state_cookie}"
    );
    let cookie = state_cookie.split(';').next().unwrap().to_string();
    let authorize = location(&start);
    assert!(
        authorize.contains("response_mode=form_post") && authorize.contains("nonce="),
        "{authorize}"
    );

    let post_back = |authorize: String, cookie: String| {
        let app = &app;
        async move {
            let at_apple = app.bare.get(authorize).send().await.unwrap();
            let back = url::Url::parse(&location(&at_apple)).unwrap();
            let q: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
            app.bare.post(app.url("/oauth/apple/callback"))
                .header("Cookie", cookie)
                .form(&[("code", q["code"].as_str()), ("state", q["state"].as_str()),
                        ("user", r#"{"name":{"firstName":"Anna","lastName":"Apple"},"email":"anna@privaterelay.appleid.com"}"#)])
                .send().await.unwrap()
        }
    };
    let done = post_back(authorize, cookie).await;
    assert_eq!(location(&done), "http://chat.test");
    let refresh = cookie_value(done.headers(), "refreshToken").unwrap();
    let user: Value = app
        .refresh_with_cookie(&refresh, "")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["user"]["email"], "anna@privaterelay.appleid.com");
    assert_eq!(user["user"]["name"], "Anna Apple");
    assert_eq!(user["user"]["username"], "anna");
    assert_eq!(user["user"]["provider"], "apple");

    // An ID token signed with a key Apple does not publish is refused.
    peer.set_profile("apple", json!({"sub": "001234.abcd", "email": "anna@privaterelay.appleid.com", "_kid": "forged-key"}));
    let start = app.bare.get(app.url("/oauth/apple")).send().await.unwrap();
    let cookie = set_cookie_line(start.headers(), "bouncer_oauth_state")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        location(&post_back(location(&start), cookie).await),
        AUTH_FAILED
    );
    assert!(logged(&[
        "provider=\"apple\"",
        "ID token was refused",
        "unknown key forged-key"
    ]));
}

#[tokio::test]
async fn oauth_routes_need_allow_social_login_and_respect_bans() {
    let peer = SocialPeer::start().await;
    let app = app_with(&peer, &[("ALLOW_SOCIAL_LOGIN", "false")]).await;
    assert_eq!(
        app.bare
            .get(app.url("/oauth/github"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let config: Value = app
        .bare
        .get(app.url("/api/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["githubLoginEnabled"], false);

    let app = app_with(&peer, &[]).await;
    let ip: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    app.ctx
        .moderation
        .ban(
            bouncer::moderation::Subject::Ip(ip),
            "operator",
            0,
            3_600_000,
        )
        .await
        .unwrap();
    let banned = app.bare.get(app.url("/oauth/github")).send().await.unwrap();
    assert_eq!(banned.status(), 403);
}

#[tokio::test]
async fn an_unverified_address_never_takes_over_an_account_of_the_same_provider() {
    let peer = SocialPeer::start().await;
    let app = app_with(&peer, &[("ALLOW_SOCIAL_REGISTRATION", "true")]).await;
    peer.set_profile(
        "github",
        json!({"id": 1, "login": "owner",
        "emails": [{"email": "owner@example.com", "primary": true, "verified": true}]}),
    );
    assert_eq!(location(&sign_in(&app, "github").await), "http://chat.test");
    // Another GitHub account shows the same address on its profile, unverified.
    peer.set_profile(
        "github",
        json!({"id": 2, "login": "intruder", "email": "owner@example.com", "emails": []}),
    );
    assert_eq!(location(&sign_in(&app, "github").await), AUTH_FAILED);
    assert!(logged(&[
        "provider mismatch",
        "owner@example.com",
        "provider github"
    ]));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM user_identities", &[]).await,
        1
    );
}

#[tokio::test]
async fn a_provider_button_on_the_pages_begins_a_browser_session_and_returns() {
    let peer = SocialPeer::start().await;
    peer.set_profile(
        "github",
        json!({
            "id": 77, "login": "grace", "name": "Grace Hopper",
            "emails": [{"email": "grace@example.com", "primary": true, "verified": true}]
        }),
    );
    let app = app_with(&peer, &[("ALLOW_SOCIAL_REGISTRATION", "true")]).await;
    let login = app.browser.get(app.url("/ui/login")).send().await.unwrap();
    let html = login.text().await.unwrap();
    let href_at = html
        .find("href=\"/oauth/github?rd=")
        .expect("a GitHub button");
    let href = &html[href_at + 6..];
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    // A crafted return address is replaced by the account page before the flow starts.
    for start in [
        href,
        "/oauth/github?rd=https%3A%2F%2Fevil.example%2F".to_string(),
    ] {
        let started = app.browser.get(app.url(&start)).send().await.unwrap();
        assert_eq!(started.status(), 302);
        let at_provider = app.bare.get(location(&started)).send().await.unwrap();
        let back = url::Url::parse(&location(&at_provider)).unwrap();
        let path = format!("{}?{}", back.path(), back.query().unwrap());
        let done = app.browser.get(app.url(&path)).send().await.unwrap();
        assert_eq!(done.status(), 302);
        assert!(
            location(&done).ends_with("/ui/account"),
            "{}",
            location(&done)
        );
        assert!(!location(&done).contains("evil"), "{}", location(&done));
        assert!(cookie_value(done.headers(), "bouncer_session").is_some());
        assert!(cookie_value(done.headers(), "refreshToken").is_none());
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessions WHERE kind = 'browser'", &[])
            .await,
        2
    );
}
