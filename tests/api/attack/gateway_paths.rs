//! Class: the gateway authorizes one path and forwards another. Every request target a backend
//! could read two ways is refused before anything is decided; every other one is decided on in
//! its canonical form, and exactly that form reaches the upstream.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::raw_http;
use crate::upstream_peer::Upstream;

async fn gateway(upstream: &Upstream) -> TestApp {
    spawn_app_with(&[
        ("UPSTREAM_URL", upstream.url.as_str()),
        ("PUBLIC_PATHS", "/assets/*"),
        // A small score, so one non-browser request does not ban at once.
        ("NON_BROWSER_VIOLATION_SCORE", "1"),
    ])
    .await
}

/// Class: path confusion. The outside attack's probes: a public prefix climbed out of with
/// backslashes, and a chat route spelt with backslashes to skip the message checks.
#[tokio::test]
async fn backslash_paths_are_refused_not_forwarded() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream).await;
    let s = app.signed_in_user("ada@example.com").await;
    let hits = upstream.hits();

    let climb = raw_http::send(&app.base, "GET /assets/..\\api\\convos HTTP/1.1", &[], "").await;
    assert_eq!(climb.status, 400, "{}", climb.body);
    assert!(climb.body.contains("backslash"), "{}", climb.body);
    assert_eq!(climb.header("content-type"), Some("application/json"));

    let auth = format!("Authorization: Bearer {}", s.token);
    let chat = raw_http::send(
        &app.base,
        "POST /api\\agents\\chat\\x HTTP/1.1",
        &[
            &auth,
            "User-Agent: curl/8.5.0",
            "Content-Type: application/json",
        ],
        "{}",
    )
    .await;
    assert_eq!(chat.status, 400, "{}", chat.body);
    assert_eq!(upstream.hits(), hits, "neither reached the upstream");
}

/// Class: path confusion. Each form a decoding, a non-decoding, a WHATWG or a servlet backend
/// would read differently is refused, with or without a token, on public prefixes too.
#[tokio::test]
async fn ambiguous_targets_are_refused_with_400() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream).await;
    let s = app.signed_in_user("ada@example.com").await;
    let hits = upstream.hits();
    let auth = format!("Authorization: Bearer {}", s.token);
    for target in [
        "/assets/..%2fapi/convos",
        "/assets/..%2Fapi/convos",
        "/assets/..%5capi/convos",
        "/assets/%2e%2e%5capi",
        "/assets/x%00.js",
        "/assets/x%0d%0aSet-Cookie:a=b",
        "/assets/%zz",
        "/assets/%",
        "/assets/..;/api/convos",
        "/assets/%2e%2e;/api/convos",
        "/assets/%252e%252e/api/convos",
        "/assets/%c0%ae%c0%ae/api/convos",
        "/../api/convos",
        "/assets/../../api/convos",
        "/assets/%2e%2e/%2e%2e/api/convos",
    ] {
        for headers in [vec![], vec![auth.as_str()]] {
            let r =
                raw_http::send(&app.base, &format!("GET {target} HTTP/1.1"), &headers, "").await;
            assert_eq!(r.status, 400, "{target}: {}", r.body);
            assert!(r.body.contains("Bad request"), "{target}: {}", r.body);
        }
    }
    assert_eq!(
        upstream.hits(),
        hits,
        "nothing ambiguous reached the upstream"
    );
}

/// Class: path confusion. What the upstream receives is byte for byte the canonical path the
/// decision was made on: dot segments and doubled slashes resolved, unreserved escapes decoded,
/// the query as sent.
#[tokio::test]
async fn the_upstream_receives_the_path_that_was_decided_on() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream).await;
    let s = app.signed_in_user("ada@example.com").await;
    let auth = format!("Authorization: Bearer {}", s.token);
    let cases = [
        ("/assets/../api/convos", "/api/convos"),
        ("/api//convos/./x/", "/api/convos/x/"),
        ("/api/%63onvos?q=%2F..%5C&x=1", "/api/convos?q=%2F..%5C&x=1"),
        ("/api/files/a%3ab%20c", "/api/files/a%3Ab%20c"),
        ("/assets/app.js", "/assets/app.js"),
    ];
    for (sent, received) in cases {
        let r = raw_http::send(&app.base, &format!("GET {sent} HTTP/1.1"), &[&auth], "").await;
        assert_eq!(r.status, 200, "{sent}: {}", r.body);
        assert_eq!(
            upstream.targets.lock().unwrap().last().map(String::as_str),
            Some(received),
            "{sent}"
        );
    }

    // `/assets/../api/convos` is `/api/convos`: not public, so no token, no upstream.
    let hits = upstream.hits();
    let anonymous = raw_http::send(&app.base, "GET /assets/../api/convos HTTP/1.1", &[], "").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(upstream.hits(), hits);
}

/// Class: path confusion. A lookalike of a chat route is the chat route: it is moderated, not
/// forwarded around the checks.
#[tokio::test]
async fn lookalike_chat_routes_meet_the_message_checks() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream).await;
    let s = app.signed_in_user("ada@example.com").await;
    let hits = upstream.hits();
    let auth = format!("Authorization: Bearer {}", s.token);
    for target in [
        "/api/agents/./chat/x",
        "/api//agents/chat/x",
        "/api/x/../agents/chat/x",
        "/api/%61gents/chat/x",
        "/API/Agents/Chat/x",
    ] {
        let r = raw_http::send(
            &app.base,
            &format!("POST {target} HTTP/1.1"),
            &[
                &auth,
                "User-Agent: curl/8.5.0",
                "Content-Type: application/json",
            ],
            "{}",
        )
        .await;
        assert_eq!(r.status, 200, "{target}");
        assert!(r.body.contains("Illegal request"), "{target}: {}", r.body);
    }
    assert_eq!(upstream.hits(), hits, "none reached the upstream");
}

/// Class: path confusion. A non-canonical spelling of one of Bouncer's own routes is that route,
/// answered by Bouncer (with its limiters), never forwarded to the upstream.
#[tokio::test]
async fn bouncers_own_routes_cannot_be_reached_around_it() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream).await;
    let s = app.signed_in_user("ada@example.com").await;
    let hits = upstream.hits();
    let login = app
        .bare
        .post(app.url("/api//auth/login"))
        .bearer_auth(&s.token)
        .json(&json!({ "email": "ada@example.com", "password": "wrong password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 404);
    assert_eq!(
        login.json::<Value>().await.unwrap()["message"],
        "Incorrect email or password."
    );
    let me = raw_http::send(
        &app.base,
        "GET /api/x/../user HTTP/1.1",
        &[&format!("Authorization: Bearer {}", s.token)],
        "",
    )
    .await;
    assert_eq!(me.status, 200);
    assert!(me.body.contains("ada@example.com"), "{}", me.body);
    assert_eq!(upstream.hits(), hits);
}
