//! Forward-auth for browsers: the sign-in pages' single-sign-on cookie at `/api/auth/verify`,
//! the sign-in redirect each proxy needs, the `Remote-*` identity headers, `ACCESS_RULES`, and
//! the reverse proxy keeping the cookie to itself. Directly and through a real nginx and Caddy,
//! configured as the README shows.

use bouncer::accounts::Email;
use bouncer::sessions::{Device, SessionKind};
use bouncer::store::users::User;
use serde_json::Value;

use crate::helpers::*;
use crate::proxies::{Caddy, Family, Nginx, SIGN_IN};
use crate::upstream_peer::Upstream;

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn user(app: &TestApp, email: &str) -> User {
    app.ctx
        .accounts
        .find_by_email(&Email::normalized(email))
        .await
        .unwrap()
        .expect("registered")
}

/// A browser session of a registered user, as the sign-in pages start it: its cookie value.
async fn browser_cookie(app: &TestApp, email: &str) -> String {
    let user = user(app, email).await;
    let issued = app
        .ctx
        .sessions
        .start(
            &user,
            SessionKind::Browser,
            Device {
                ip: "127.0.0.1".parse().unwrap(),
                user_agent: None,
            },
        )
        .await
        .unwrap();
    issued
        .browser_token
        .expect("a browser session has a cookie")
}

fn sso(cookie: &str) -> String {
    format!("theme=dark; bouncer_session={cookie}; lang=en")
}

/// A forward-auth request as Traefik or Caddy send it for `https://wiki.example.com<uri>`.
fn verify(app: &TestApp, uri: &str) -> reqwest::RequestBuilder {
    app.bare
        .get(app.url("/api/auth/verify"))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "wiki.example.com")
        .header("X-Forwarded-Uri", uri)
}

fn rd_of(location: &str) -> Option<String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "rd")
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn the_single_sign_on_cookie_passes_with_every_identity_header_until_it_is_revoked() {
    let app = spawn_app_with(&[]).await;
    app.signed_in_user("root@example.com").await; // the first user is ADMIN
    let s = app.signed_in_user("ada@example.com").await;
    let ada = user(&app, "ada@example.com").await;
    let cookie = browser_cookie(&app, "ada@example.com").await;

    let ok = verify(&app, "/page")
        .header("Cookie", sso(&cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let h = ok.headers();
    assert_eq!(h["x-auth-user-id"], ada.id.as_str());
    assert_eq!(h["x-auth-user-email"], "ada@example.com");
    assert_eq!(h["x-auth-user-role"], "USER");
    let expected_user = if ada.username.is_empty() {
        ada.id.as_str()
    } else {
        ada.username.as_str()
    };
    assert_eq!(h["remote-user"], expected_user);
    assert_eq!(h["remote-email"], "ada@example.com");
    assert_eq!(h["remote-name"], "Test User");
    assert_eq!(h["remote-groups"], "USER");

    // The Bearer token still wins when both come: a bad one is refused, cookie or not.
    let bad_bearer = verify(&app, "/page")
        .header("Cookie", sso(&cookie))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_bearer.status(), 401);

    // Forged cookies: an access token, garbage, a cookie signed for another key, or the
    // cookie sent as a Bearer token.
    for forged in [s.token.as_str(), "garbage", "a.b.c"] {
        let r = verify(&app, "/page")
            .header("Cookie", sso(forged))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{forged}");
    }
    let as_bearer = verify(&app, "/page")
        .bearer_auth(&cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(as_bearer.status(), 401, "the cookie is no access token");
    let other_keys = bouncer::sessions::TokenKeys::new(
        "another-access-secret-0123456789abcdef0123456",
        "another-refresh-secret-0123456789abcdef01234",
    );
    let claims: bouncer::sessions::AccessClaims =
        serde_json::from_value(jwt_payload(&cookie)).unwrap();
    let resigned = other_keys.sign_browser(&claims).unwrap();
    let r = verify(&app, "/page")
        .header("Cookie", sso(&resigned))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "signed with another key");

    // Revoked: one session directly, another by signing out of it.
    let sid = jwt_payload(&cookie)["sid"].as_str().unwrap().to_string();
    app.ctx.sessions.revoke_session(&sid).await.unwrap();
    let revoked = verify(&app, "/page")
        .header("Cookie", sso(&cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);
    assert_eq!(
        revoked.json::<Value>().await.unwrap()["message"],
        "Session revoked"
    );
    let second = browser_cookie(&app, "ada@example.com").await;
    let before = verify(&app, "/page")
        .header("Cookie", sso(&second))
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), 200);
    app.ctx
        .sessions
        .logout_browser(Some(&second))
        .await
        .unwrap();
    let after = verify(&app, "/page")
        .header("Cookie", sso(&second))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "signed out");
}

#[tokio::test]
async fn browsers_without_a_session_are_sent_to_sign_in_and_only_back_to_allowed_hosts() {
    let app = spawn_app_with(&[("ALLOWED_REDIRECT_HOSTS", ".example.com")]).await;
    app.signed_in_user("ada@example.com").await;

    let r = verify(&app, "/page?x=1&y=a%20b")
        .header("Accept", HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let to = location(&r);
    assert!(to.starts_with(&format!("{SIGN_IN}?rd=")), "{to}");
    assert_eq!(
        rd_of(&to).as_deref(),
        Some("https://wiki.example.com/page?x=1&y=a%20b")
    );
    // An expired or revoked cookie is no session either.
    let cookie = browser_cookie(&app, "ada@example.com").await;
    let sid = jwt_payload(&cookie)["sid"].as_str().unwrap().to_string();
    app.ctx.sessions.revoke_session(&sid).await.unwrap();
    let revoked = verify(&app, "/")
        .header("Accept", HTML)
        .header("Cookie", sso(&cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 302);

    // API clients (no text/html) keep the JSON answer.
    let api = verify(&app, "/page")
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    assert_eq!(
        api.json::<Value>().await.unwrap()["message"],
        "No auth token"
    );

    // Crafted hosts, schemes and URIs never make an rd that leaves the allowed hosts.
    let crafted = [
        ("https", "evil.io", "/page"),
        ("https", "wiki.example.com@evil.io", "/page"),
        ("https", "evil.io/wiki.example.com", "/page"),
        ("https", "wiki.example.com.evil.io", "/page"),
        ("https", "evil.io#.example.com", "/page"),
        ("https", "evil.io\\.example.com", "/page"),
        ("javascript", "wiki.example.com", "/page"),
        ("https", "wiki.example.com", "//evil.io/x"),
        ("https", "wiki.example.com", "/@evil.io"),
    ];
    for (proto, host, uri) in crafted {
        let r = app
            .bare
            .get(app.url("/api/auth/verify"))
            .header("Accept", HTML)
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Proto", proto)
            .header("X-Forwarded-Host", host)
            .header("X-Forwarded-Uri", uri)
            .send()
            .await
            .unwrap();
        assert!(
            matches!(r.status().as_u16(), 302 | 400),
            "{proto} {host} {uri}: {}",
            r.status()
        );
        if r.status() == 302 {
            let to = location(&r);
            assert!(to.starts_with(SIGN_IN), "{to}");
            if let Some(rd) = rd_of(&to) {
                let back = url::Url::parse(&rd).unwrap();
                assert_eq!(
                    back.host_str(),
                    Some("wiki.example.com"),
                    "{host} {uri}: {rd}"
                );
                assert!(matches!(back.scheme(), "https"), "{rd}");
            }
        }
    }
    let two_hosts = app
        .bare
        .get(app.url("/api/auth/verify"))
        .header("Accept", HTML)
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "wiki.example.com")
        .header("X-Forwarded-Host", "evil.io")
        .header("X-Forwarded-Uri", "/")
        .send()
        .await
        .unwrap();
    assert_eq!(two_hosts.status(), 302);
    assert_eq!(location(&two_hosts), SIGN_IN, "no rd from a repeated host");

    // nginx's family: a 401 for `error_page 401 =302` to redirect.
    let app = spawn_app_with(&[("FORWARD_AUTH_HEADERS", "original")]).await;
    let nginx = app
        .bare
        .get(app.url("/api/auth/verify"))
        .header("Accept", HTML)
        .header("X-Original-Method", "GET")
        .header("X-Original-URI", "/page")
        .header("X-Forwarded-Host", "wiki.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(nginx.status(), 401);
    assert!(nginx.headers().get("location").is_none());
}

#[tokio::test]
async fn access_rules_refuse_the_wrong_role_directly() {
    let app = spawn_app_with(&[
        (
            "ACCESS_RULES",
            "wiki.example.com/admin*=ADMIN; wiki.example.com=ADMIN|USER; *=ADMIN",
        ),
        ("ALLOWED_REDIRECT_HOSTS", ".example.com"),
    ])
    .await;
    app.signed_in_user("root@example.com").await;
    app.signed_in_user("ada@example.com").await;
    let root = browser_cookie(&app, "root@example.com").await;
    let ada = browser_cookie(&app, "ada@example.com").await;
    let status = |cookie: String, host: &'static str, uri: &'static str| {
        let app = &app;
        async move {
            app.bare
                .get(app.url("/api/auth/verify"))
                .header("Accept", HTML)
                .header("Cookie", sso(&cookie))
                .header("X-Forwarded-Method", "GET")
                .header("X-Forwarded-Proto", "https")
                .header("X-Forwarded-Host", host)
                .header("X-Forwarded-Uri", uri)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        status(root.clone(), "wiki.example.com", "/admin/x")
            .await
            .status(),
        200
    );
    let refused = status(ada.clone(), "wiki.example.com", "/admin/x").await;
    assert_eq!(
        refused.status(),
        403,
        "a browser too gets the 403, not a redirect"
    );
    assert_eq!(
        refused.json::<Value>().await.unwrap()["message"],
        "Your role may not use this address"
    );
    assert_eq!(
        status(ada.clone(), "WIKI.example.com:443", "/ADMIN")
            .await
            .status(),
        403,
        "neither case nor port slips past"
    );
    assert_eq!(
        status(ada.clone(), "wiki.example.com", "/page")
            .await
            .status(),
        200
    );
    assert_eq!(
        status(ada.clone(), "chat.example.com", "/").await.status(),
        403,
        "the catch-all"
    );
    assert_eq!(
        status(root.clone(), "chat.example.com", "/").await.status(),
        200
    );
    // Without the host, no rule can be found: refused, not guessed.
    let no_host = app
        .bare
        .get(app.url("/api/auth/verify"))
        .header("Cookie", sso(&root))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Uri", "/")
        .send()
        .await
        .unwrap();
    assert_eq!(no_host.status(), 400);
}

#[tokio::test]
async fn caddy_sends_browsers_to_sign_in_and_lets_the_cookie_through_with_its_headers() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&[
        ("ALLOWED_REDIRECT_HOSTS", "127.0.0.1"),
        ("PUBLIC_PATHS", "/assets/*"),
        ("ACCESS_RULES", "127.0.0.1/admin*=ADMIN"),
    ])
    .await;
    app.signed_in_user("root@example.com").await;
    app.signed_in_user("ada@example.com").await;
    let root = browser_cookie(&app, "root@example.com").await;
    let ada = browser_cookie(&app, "ada@example.com").await;
    let Some(caddy) = Caddy::forward_auth(
        "caddy_sends_browsers_to_sign_in_and_lets_the_cookie_through_with_its_headers",
        &app.base,
        &upstream.url,
    )
    .await
    else {
        return;
    };
    let front = caddy.url.clone();
    let hits = upstream.hits();

    let anonymous = app
        .bare
        .get(format!("{front}/page?x=1"))
        .header("Accept", HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 302);
    assert_eq!(
        rd_of(&location(&anonymous)).as_deref(),
        Some(format!("{front}/page?x=1").as_str())
    );
    let elsewhere = app
        .bare
        .get(format!("{front}/page"))
        .header("Accept", HTML)
        .header("Host", "evil.io")
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 302);
    assert_eq!(location(&elsewhere), SIGN_IN, "no rd to a host not allowed");
    let api = app.bare.get(format!("{front}/page")).send().await.unwrap();
    assert_eq!(api.status(), 401);
    assert_eq!(upstream.hits(), hits, "none of them reached the app");

    let seen: Value = app
        .bare
        .get(format!("{front}/page"))
        .header("Accept", HTML)
        .header("Cookie", sso(&ada))
        .header("Remote-User", "root")
        .header("Remote-Groups", "ADMIN")
        .header("Remote-Name", "Root")
        .header("Remote_User", "root")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ada_user = user(&app, "ada@example.com").await;
    assert_eq!(seen["x-auth-user-id"], ada_user.id.as_str());
    assert_eq!(seen["remote-email"], "ada@example.com");
    assert_eq!(seen["remote-groups"], "USER");
    assert_eq!(seen["remote-name"], "Test User");
    assert_ne!(seen["remote-user"], "root");
    assert!(
        seen.get("remote_user").is_none(),
        "the README's `request_header -Remote_*`: {seen}"
    );

    let public: Value = app
        .bare
        .get(format!("{front}/assets/app.js"))
        .header("Remote-User", "root")
        .header("Remote-Groups", "ADMIN")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Caddy's `copy_headers` overwrites them even when Bouncer's answer has none (a public
    // path): Debian 12's Caddy 2.6.2 writes its placeholder text, not the client's value.
    for name in ["remote-user", "remote-groups"] {
        let value = public.get(name).and_then(Value::as_str).unwrap_or("");
        assert!(
            value != "root" && value != "ADMIN",
            "a client's {name} never reaches the app: {public}"
        );
    }

    let admin_page = |cookie: String| {
        app.bare
            .get(format!("{front}/admin/users"))
            .header("Accept", HTML)
            .header("Cookie", sso(&cookie))
            .send()
    };
    assert_eq!(admin_page(ada).await.unwrap().status(), 403);
    assert_eq!(admin_page(root).await.unwrap().status(), 200);
}

#[tokio::test]
async fn nginx_answers_401_for_its_error_page_and_passes_the_cookie_holder() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&[
        ("FORWARD_AUTH_HEADERS", "original"),
        ("ACCESS_RULES", "127.0.0.1/admin*=ADMIN"),
    ])
    .await;
    app.signed_in_user("root@example.com").await;
    app.signed_in_user("ada@example.com").await;
    let root = browser_cookie(&app, "root@example.com").await;
    let ada = browser_cookie(&app, "ada@example.com").await;
    let Some(nginx) = Nginx::forward_auth(
        "nginx_answers_401_for_its_error_page_and_passes_the_cookie_holder",
        &app.base,
        &upstream.url,
        Family::Original,
    )
    .await
    else {
        return;
    };
    let front = nginx.url.clone();
    let hits = upstream.hits();

    let anonymous = app
        .bare
        .get(format!("{front}/page?x=1"))
        .header("Accept", HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 302, "error_page 401 =302");
    assert_eq!(
        location(&anonymous),
        format!("{SIGN_IN}?rd={front}/page?x=1")
    );
    assert_eq!(upstream.hits(), hits);

    let seen: Value = app
        .bare
        .get(format!("{front}/page"))
        .header("Accept", HTML)
        .header("Cookie", sso(&ada))
        .header("Remote-User", "root")
        .header("Remote-Groups", "ADMIN")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ada_user = user(&app, "ada@example.com").await;
    assert_eq!(seen["x-auth-user-id"], ada_user.id.as_str());
    assert_eq!(seen["remote-email"], "ada@example.com");
    assert_eq!(seen["remote-groups"], "USER");
    assert_eq!(seen["remote-name"], "Test User");
    assert_ne!(seen["remote-user"], "root", "{seen}");

    let admin_page = |cookie: String| {
        app.bare
            .get(format!("{front}/admin/users"))
            .header("Accept", HTML)
            .header("Cookie", sso(&cookie))
            .send()
    };
    assert_eq!(admin_page(ada).await.unwrap().status(), 403);
    assert_eq!(admin_page(root).await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_reverse_proxy_keeps_the_cookie_to_itself_and_applies_the_rules_by_path() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&[
        ("UPSTREAM_URL", upstream.url.as_str()),
        ("ACCESS_RULES", "chat.example.com/admin*=ADMIN"),
    ])
    .await;
    app.signed_in_user("root@example.com").await;
    let s = app.signed_in_user("ada@example.com").await;
    let cookie = browser_cookie(&app, "ada@example.com").await;

    let seen: Value = app
        .bare
        .get(app.url("/api/convos"))
        .header("Cookie", sso(&cookie))
        .header("Remote-User", "root")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["cookie"], "theme=dark; lang=en", "{seen}");
    assert_eq!(seen["remote-email"], "ada@example.com");
    assert_ne!(seen["remote-user"], "root");
    assert_eq!(seen["x-auth-user-id"], s.user_id.as_str());

    let only_sso: Value = app
        .bare
        .get(app.url("/api/convos"))
        .bearer_auth(&s.token)
        .header("Cookie", format!("bouncer_session={cookie}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(only_sso.get("cookie").is_none(), "{only_sso}");

    // One upstream whatever Host a client names: the rule's path decides.
    for host in ["chat.example.com", "elsewhere.example.com"] {
        let r = app
            .bare
            .get(app.url("/admin/users"))
            .bearer_auth(&s.token)
            .header("Host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{host}");
    }
}
