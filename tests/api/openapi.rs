//! The OpenAPI document at `/api/openapi.json` (`src/http/openapi.rs`): what it names is what
//! the router serves, with every feature on and with them off.
//!
//! The router registers each API route through utoipa-axum's `routes!`, which takes the path
//! and methods from the handler's annotation, so the two cannot drift as long as no route is
//! added with a bare `.route(...)`: `no_api_route_is_registered_outside_the_document` keeps
//! it so, and the other tests check the result against the live server.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::helpers::*;
use crate::social_peer::SocialPeer;

const SESSION_SECRET: &str = "openapi-session-secret-0123456789abcdef";

/// Every feature that adds routes: the five social providers, and OpenID sign-in (its issuer
/// may be down: the routes stay) or SAML, which is off while OpenID is configured (as in
/// LibreChat).
async fn app_with_every_feature(peer: &SocialPeer, saml: bool) -> TestApp {
    let cert = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/saml/test-idp-cert.pem")
        .display()
        .to_string();
    let owned = peer.vars();
    let mut vars: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if saml {
        vars.extend_from_slice(&[
            ("SAML_ENTRY_POINT", "https://idp.test/sso"),
            ("SAML_ISSUER", "https://bouncer.test/saml"),
            ("SAML_CERT", cert.as_str()),
            ("SAML_SESSION_SECRET", SESSION_SECRET),
        ]);
    } else {
        vars.extend_from_slice(&[
            ("OPENID_CLIENT_ID", "bouncer"),
            ("OPENID_CLIENT_SECRET", "bouncer-client-secret"),
            ("OPENID_ISSUER", "http://127.0.0.1:9"),
            ("OPENID_SESSION_SECRET", SESSION_SECRET),
            ("OPENID_CALLBACK_URL", "/oauth/openid/callback"),
        ]);
    }
    spawn_app_with(&vars).await
}

async fn document(app: &TestApp) -> Value {
    let response = app
        .browser
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    response.json().await.unwrap()
}

/// `(METHOD, path)` of every operation.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in [
            "get", "put", "post", "delete", "patch", "options", "head", "trace",
        ] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// The router's own answer to a path it does not serve, to tell it from a handler's.
async fn fallback_answer(app: &TestApp, method: &str) -> (u16, String) {
    let response = app
        .browser
        .request(method.parse().unwrap(), app.url("/no-such-route/at-all"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn every_documented_operation_is_served_with_every_feature_on() {
    let peer = SocialPeer::start().await;
    for saml in [false, true] {
        let app = app_with_every_feature(&peer, saml).await;
        let sign_in: &[(&str, &str)] = if saml {
            &[
                ("GET", "/oauth/saml"),
                ("POST", "/oauth/saml/callback"),
                ("GET", "/oauth/saml/metadata"),
            ]
        } else {
            &[("GET", "/oauth/openid"), ("GET", "/oauth/openid/callback")]
        };
        served_as_documented(&app, sign_in).await;
    }
}

async fn served_as_documented(app: &TestApp, sign_in: &[(&str, &str)]) {
    let doc = document(app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = operations(&doc);
    // The feature routes are in, each under its own path and method.
    for expected in sign_in.iter().copied().chain([
        ("GET", "/oauth/google"),
        ("GET", "/oauth/google/callback"),
        ("GET", "/oauth/github/callback"),
        ("GET", "/oauth/discord"),
        ("GET", "/oauth/facebook"),
        ("GET", "/oauth/apple"),
        ("POST", "/oauth/apple/callback"),
        ("POST", "/oidc/token"),
        ("GET", "/.well-known/openid-configuration"),
        ("GET", "/api/auth/verify"),
        ("GET", "/api/bouncer/users/{id}"),
        ("GET", "/api/openapi.json"),
    ]) {
        let op = (expected.0.to_string(), expected.1.to_string());
        assert!(ops.contains(&op), "{op:?} is missing from the document");
    }
    // And each one is answered by a handler, not by the router's 404 or 405.
    for (method, path) in &ops {
        let concrete = path
            .replace("{id}", "x")
            .replace("{user_id}", "x")
            .replace("{session_id}", "x");
        let response = app
            .browser
            .request(method.parse().unwrap(), app.url(&concrete))
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert_ne!(
            status, 405,
            "{method} {path} is documented but not routed: {body}"
        );
        assert_ne!(
            (status, body.clone()),
            fallback_answer(app, method).await,
            "{method} {path} is documented but answered by the router's fallback"
        );
    }
}

#[tokio::test]
async fn feature_routes_are_documented_only_when_served() {
    let app = spawn_app().await;
    let ops = operations(&document(&app).await);
    for path in [
        "/oauth/openid",
        "/oauth/saml",
        "/oauth/google",
        "/oauth/apple/callback",
    ] {
        assert!(
            !ops.iter().any(|(_, p)| p == path),
            "{path} is documented with its feature off"
        );
        let response = app.browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            response.status(),
            404,
            "{path} is served with its feature off"
        );
    }
    // The routes of every instance are there.
    assert!(ops.contains(&("POST".into(), "/api/auth/login".into())));
    assert!(ops.contains(&("GET".into(), "/oauth/error".into())));
}

/// A route added with a bare `.route(...)` would be served but missing from the document: API
/// routes go through `routes!` (the pages, HTML, are their own router, `src/pages/`; the social
/// providers' per-provider routes are documented by hand in `oauth::social_routes`, which
/// `every_documented_operation_is_served_with_every_feature_on` checks).
#[test]
fn no_api_route_is_registered_outside_the_document() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("router.rs")];
    for dir in ["http", "http/admin"] {
        for entry in std::fs::read_dir(src.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let allowed = file.ends_with("http/oauth.rs");
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            let bare = line.contains(".route(") || line.contains(".route_service(");
            if bare && !allowed {
                panic!(
                    "{}:{}: an API route registered with .route(...) is not in the OpenAPI \
                     document; annotate the handler with #[utoipa::path] and use \
                     .routes(routes!(handler))",
                    file.display(),
                    n + 1
                );
            }
        }
    }
}

/// Findings of schemathesis (tests/peers/schemathesis/run.sh), each an answer the document
/// did not describe: the canonical target's 400 on every operation (an encoded control
/// character in a path parameter), a body of the wrong type at a route whose own 400 has
/// another shape, and the admin's password reset refused as LibreChat does (text).
#[tokio::test]
async fn answers_schemathesis_found_undocumented_are_documented() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let response = |path: &str, method: &str, status: &str| -> Value {
        doc["paths"][path][method]["responses"][status].clone()
    };
    let mentions = |v: &Value, needle: &str| v.to_string().contains(needle);

    let picture = app
        .browser
        .get(app.url("/oidc/picture/%07x"))
        .send()
        .await
        .unwrap();
    assert_eq!(picture.status(), 400);
    let body: Value = picture.json().await.unwrap();
    assert!(body["message"].is_string(), "{body}");
    let documented = response("/oidc/picture/{user_id}", "get", "400");
    assert!(
        mentions(&documented, "#/components/schemas/Message"),
        "{documented}"
    );
    assert!(
        mentions(&documented, "#/components/schemas/OAuthError"),
        "{documented}"
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let bad = &op["responses"]["400"];
            assert!(
                mentions(bad, "#/components/schemas/Message"),
                "{method} {path}: the canonical target's 400 is not documented"
            );
        }
    }

    let (status, body) = app
        .post_json(
            "/api/auth/requestPasswordReset",
            &serde_json::json!({ "email": {} }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid JSON body"));
    let documented = response("/api/auth/requestPasswordReset", "post", "400");
    assert!(
        mentions(&documented, "#/components/schemas/Message"),
        "{documented}"
    );
    assert!(
        mentions(&documented, "#/components/schemas/ResetDomainRefused"),
        "{documented}"
    );

    let documented = response("/api/bouncer/users/{id}/password-reset", "post", "403");
    assert!(
        documented["content"]["text/plain"].is_object(),
        "{documented}"
    );
}
