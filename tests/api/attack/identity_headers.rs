//! Class: identity spoofing through headers the upstream reads as Bouncer's. CGI, WSGI and many
//! frameworks read `X_Auth_User_Id` as `X-Auth-User-Id`, so every underscored header and every
//! identity lookalike a client sends is dropped before the upstream, with or without a token.

use serde_json::Value;

use crate::helpers::*;
use crate::upstream_peer::Upstream;

const SPOOFS: [(&str, &str); 7] = [
    ("X-Auth-User-Id", "000000000000000000000000"),
    ("x-auth-user-role", "ADMIN"),
    ("X_Auth_User_Id", "000000000000000000000000"),
    ("X_Auth_User_Role", "ADMIN"),
    ("x_auth_user_email", "root@example.com"),
    ("X-Auth_User-Role", "ADMIN"),
    ("X_Forwarded_For", "10.9.9.9"),
];

async fn seen_upstream(app: &TestApp, path: &str, token: Option<&str>) -> Value {
    let mut r = app.bare.get(app.url(path));
    for (k, v) in SPOOFS {
        r = r.header(k, v);
    }
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let response = r.send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Class: identity spoofing. Signed in or on a public path, the upstream sees Bouncer's
/// identity headers only, and no underscored header at all.
#[tokio::test]
async fn underscored_and_lookalike_identity_headers_never_reach_the_upstream() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&[
        ("UPSTREAM_URL", upstream.url.as_str()),
        ("PUBLIC_PATHS", "/assets/*"),
    ])
    .await;
    app.signed_in_user("admin@example.com").await; // the first user is ADMIN
    let s = app.signed_in_user("ada@example.com").await;

    let signed_in = seen_upstream(&app, "/api/convos", Some(&s.token)).await;
    assert_eq!(signed_in["x-auth-user-id"], s.user_id.as_str());
    assert_eq!(signed_in["x-auth-user-role"], "USER");
    assert_eq!(signed_in["x-auth-user-email"], "ada@example.com");
    let public = seen_upstream(&app, "/assets/app.js", None).await;
    for seen in [&signed_in, &public] {
        let names: Vec<&String> = seen.as_object().unwrap().keys().collect();
        assert!(
            !names.iter().any(|n| n.contains('_') && !n.starts_with('_')),
            "an underscored header went through: {names:?}"
        );
    }
    assert!(public.get("x-auth-user-id").is_none());
    assert!(public.get("x-auth-user-role").is_none());
}

/// Class: identity spoofing. A forwarding chain written by a client that is not a trusted
/// proxy is replaced, not extended: the upstream never sees an address the client made up.
#[tokio::test]
async fn a_forwarding_chain_from_an_untrusted_peer_is_replaced() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&[
        ("UPSTREAM_URL", upstream.url.as_str()),
        ("TRUSTED_PROXIES", "10.0.0.0/8"),
    ])
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let seen: Value = app
        .bare
        .get(app.url("/api/convos"))
        .bearer_auth(&s.token)
        .header("X-Forwarded-For", "6.6.6.6")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1");

    // From a trusted proxy the chain grows by that proxy.
    let app = spawn_app_with(&[("UPSTREAM_URL", upstream.url.as_str())]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let seen: Value = app
        .bare
        .get(app.url("/api/convos"))
        .bearer_auth(&s.token)
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
}

/// Class: identity spoofing. The forward-auth answer carries Bouncer's identity headers only,
/// whatever the auth request held.
#[tokio::test]
async fn forward_auth_answers_carry_only_bouncers_identity() {
    let app = spawn_app_with(&[("PUBLIC_PATHS", "/assets/*")]).await;
    let mut r = app
        .bare
        .get(app.url("/api/auth/verify"))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Uri", "/assets/app.js");
    for (k, v) in SPOOFS {
        r = r.header(k, v);
    }
    let response = r.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        !response
            .headers()
            .keys()
            .any(|k| k.as_str().starts_with("x-auth") || k.as_str().starts_with("x_auth")),
        "{:?}",
        response.headers()
    );
}
