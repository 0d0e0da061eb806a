//! Class: forward-auth believes headers the client can add. Proxies pass the client's headers
//! to the auth request (Caddy and Traefik all of them; nginx all but those it sets), so
//! Bouncer reads exactly one family — the one the proxy overwrites — from trusted peers only.

use serde_json::json;

use crate::helpers::*;
use crate::proxies::{Caddy, Family, Nginx};
use crate::upstream_peer::Upstream;

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

fn verify(app: &TestApp, headers: &[(&str, &str)], token: Option<&str>) -> reqwest::RequestBuilder {
    let mut r = app
        .bare
        .get(app.url("/api/auth/verify"))
        .header("User-Agent", BROWSER);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r
}

/// Class: forward-auth header injection. As Traefik (and Caddy) send it: the proxy's own
/// `X-Forwarded-*`, plus whatever the client added. The client's `X-Original-*` is ignored,
/// for the URI (no public-path bypass) and for the method (no limiter bypass).
#[tokio::test]
async fn the_other_family_is_ignored_traefik_and_caddy_style() {
    let app = spawn_app_with(&[
        ("PUBLIC_PATHS", "/assets/*"),
        ("LIMIT_MESSAGE_USER", "true"),
        ("MESSAGE_USER_MAX", "1"),
        ("BAN_VIOLATIONS", "false"),
    ])
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let anonymous = verify(
        &app,
        &[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", "/api/convos"),
            ("X-Original-URI", "/assets/app.js"),
            ("X-Original-Method", "GET"),
        ],
        None,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        anonymous.status(),
        401,
        "the client's X-Original-URI is not believed"
    );

    let post = || {
        verify(
            &app,
            &[
                ("X-Forwarded-Method", "POST"),
                ("X-Forwarded-Uri", "/api/agents/chat/openAI"),
                ("X-Original-Method", "GET"),
                ("X-Original-URI", "/api/convos"),
            ],
            Some(&s.token),
        )
        .send()
    };
    assert_eq!(post().await.unwrap().status(), 200);
    assert_eq!(
        post().await.unwrap().status(),
        429,
        "the POST was counted by the message limiter"
    );
}

/// Class: forward-auth header injection. With `FORWARD_AUTH_HEADERS=original` (nginx's names)
/// it is the other way round: a client's `X-Forwarded-Uri` is ignored.
#[tokio::test]
async fn with_the_original_family_forwarded_headers_are_ignored() {
    let app = spawn_app_with(&[
        ("PUBLIC_PATHS", "/assets/*"),
        ("FORWARD_AUTH_HEADERS", "original"),
    ])
    .await;
    let r = verify(
        &app,
        &[
            ("X-Original-Method", "GET"),
            ("X-Original-URI", "/api/convos"),
            ("X-Forwarded-Uri", "/assets/app.js"),
        ],
        None,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    let public = verify(
        &app,
        &[
            ("X-Original-Method", "GET"),
            ("X-Original-URI", "/assets/app.js"),
        ],
        None,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(public.status(), 200);
}

/// Class: forward-auth header injection. A missing, repeated or ambiguous original request is
/// refused (400), never decided on as a default like `GET /`.
#[tokio::test]
async fn missing_repeated_or_ambiguous_originals_are_refused() {
    let app = spawn_app_with(&[("PUBLIC_PATHS", "/*")]).await;
    let missing_uri = verify(&app, &[("X-Forwarded-Method", "GET")], None)
        .send()
        .await
        .unwrap();
    assert_eq!(missing_uri.status(), 400);
    assert!(missing_uri
        .text()
        .await
        .unwrap()
        .contains("X-Forwarded-Uri"));
    let missing_method = verify(&app, &[("X-Forwarded-Uri", "/x")], None)
        .send()
        .await
        .unwrap();
    assert_eq!(missing_method.status(), 400);
    let repeated = verify(
        &app,
        &[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", "/x"),
            ("X-Forwarded-Uri", "/y"),
        ],
        None,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(repeated.status(), 400);
    for uri in [
        "/assets/..\\api",
        "/a/..%2fb",
        "/../x",
        "http://evil/x",
        "*",
    ] {
        let r = verify(
            &app,
            &[("X-Forwarded-Method", "GET"), ("X-Forwarded-Uri", uri)],
            None,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 400, "{uri}");
    }
}

/// Class: forward-auth header injection. Only a trusted proxy may ask: a client that reaches
/// the endpoint directly cannot use it as an oracle.
#[tokio::test]
async fn only_trusted_proxies_are_answered() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "10.0.0.0/8")]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let r = verify(
        &app,
        &[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", "/api/convos"),
        ],
        Some(&s.token),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
}

/// Class: forward-auth header injection, through a real Caddy (`forward_auth`), which passes
/// every client header to the auth request and sets `X-Forwarded-Method` / `-Uri` itself.
#[tokio::test]
async fn behind_a_real_caddy_injected_headers_are_not_believed() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&[
        ("PUBLIC_PATHS", "/assets/*"),
        ("LIMIT_MESSAGE_USER", "true"),
        ("MESSAGE_USER_MAX", "1"),
        ("BAN_VIOLATIONS", "false"),
    ])
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let Some(caddy) = Caddy::forward_auth(
        "behind_a_real_caddy_injected_headers_are_not_believed",
        &app.base,
        &upstream.url,
    )
    .await
    else {
        return;
    };
    let hits = upstream.hits();
    let spoofed = app
        .bare
        .get(format!("{}/api/convos", caddy.url))
        .header("X-Original-URI", "/assets/app.js")
        .header("X-Forwarded-Uri", "/assets/app.js")
        .header("X-Original-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 401);
    assert_eq!(upstream.hits(), hits, "the anonymous request stayed out");

    let public = app
        .bare
        .get(format!("{}/assets/app.js", caddy.url))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 200, "public paths pass without a token");

    let ask = || {
        app.bare
            .post(format!("{}/api/agents/chat/openAI", caddy.url))
            .bearer_auth(&s.token)
            .header("User-Agent", BROWSER)
            .header("X-Original-Method", "GET")
            .header("X-Forwarded-Method", "GET")
            .header("X_Auth_User_Id", "spoof")
            .header("x_AUTH_user_ROLE", "spoof")
            .header("X-Auth-User-Email", "spoof@example.com")
            .json(&json!({ "text": "hi" }))
            .send()
    };
    let first = ask().await.unwrap();
    assert_eq!(first.status(), 200);
    let seen: serde_json::Value = first.json().await.unwrap();
    assert_eq!(seen["x-auth-user-id"], s.user_id.as_str());
    assert_eq!(seen["x-auth-user-email"], "ada@example.com");
    let names: Vec<&String> = seen.as_object().unwrap().keys().collect();
    assert!(
        !names.iter().any(|n| n.starts_with("x_auth")),
        "the README's `request_header -X_Auth*` keeps underscored lookalikes out: {names:?}"
    );
    assert_eq!(
        ask().await.unwrap().status(),
        429,
        "the POST was counted whatever the client claimed"
    );
}

/// Class: forward-auth header injection, through a real nginx (`auth_request`) in both header
/// families: the client's copy of either family is never what Bouncer decides on.
#[tokio::test]
async fn behind_a_real_nginx_injected_headers_are_not_believed() {
    for (family, setting) in [
        (Family::Original, "original"),
        (Family::Forwarded, "forwarded"),
    ] {
        let upstream = Upstream::start().await;
        let app = spawn_app_with(&[
            ("PUBLIC_PATHS", "/assets/*"),
            ("FORWARD_AUTH_HEADERS", setting),
        ])
        .await;
        let Some(nginx) = Nginx::forward_auth(
            "behind_a_real_nginx_injected_headers_are_not_believed",
            &app.base,
            &upstream.url,
            family,
        )
        .await
        else {
            return;
        };
        let hits = upstream.hits();
        let spoofed = app
            .bare
            .get(format!("{}/api/convos", nginx.url))
            .header("X-Original-URI", "/assets/app.js")
            .header("X-Forwarded-Uri", "/assets/app.js")
            .send()
            .await
            .unwrap();
        // Refused: nginx's `error_page 401 =302` sends the client to sign in.
        assert_eq!(spoofed.status(), 302, "{setting}");
        assert!(
            location(&spoofed).starts_with(crate::proxies::SIGN_IN),
            "{setting}"
        );
        assert_eq!(upstream.hits(), hits, "{setting}");
        let public = app
            .bare
            .get(format!("{}/assets/app.js", nginx.url))
            .send()
            .await
            .unwrap();
        assert_eq!(public.status(), 200, "{setting}");
    }
}
