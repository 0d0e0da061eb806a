//! The chat gateway: Bouncer in front of a chat backend (a real HTTP server started here that
//! streams SSE), as a reverse proxy and as the forward-auth endpoint of a reverse proxy.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::proxies::{Family, Nginx};
use crate::upstream_peer::Upstream;

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

async fn gateway(upstream: &Upstream, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("UPSTREAM_URL", upstream.url.as_str())];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

fn chat(app: &TestApp, token: &str) -> reqwest::RequestBuilder {
    app.bare
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(token)
        .header("Accept", "text/event-stream")
        .json(&json!({ "model": "test", "stream": true, "messages": [] }))
}

#[tokio::test]
async fn streams_pass_unbuffered_and_hold_a_concurrency_slot_until_they_end() {
    let upstream = Upstream::start().await;
    // Refused attempts while waiting must not add up to a ban.
    let app = gateway(
        &upstream,
        &[
            ("LIMIT_CONCURRENT_MESSAGES", "true"),
            ("CONCURRENT_MESSAGE_MAX", "1"),
            ("BAN_VIOLATIONS", "false"),
        ],
    )
    .await;
    let s = app.signed_in_user("ada@example.com").await;

    let mut first = chat(&app, &s.token).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "text/event-stream");
    // The upstream holds the rest of the stream until the gate opens: this chunk came through
    // on its own, unbuffered.
    let chunk = first.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&chunk).contains("Hello"));

    let second = chat(&app, &s.token).send().await.unwrap();
    assert_eq!(second.status(), 429, "one stream at a time");
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["type"], "concurrent");

    upstream.gate.add_permits(1);
    let mut rest = String::new();
    while let Some(c) = first.chunk().await.unwrap() {
        rest.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(rest.contains("world") && rest.contains("[DONE]"), "{rest}");
    // The next stream gets the slot once the first has given it back; its client then walks
    // away mid-stream, while the upstream still holds the rest (the gate stays shut).
    let third = poll_for(200, Duration::from_millis(25), || async {
        let r = chat(&app, &s.token).send().await.unwrap();
        (r.status() == 200).then_some(r)
    })
    .await;
    let mut third = third.expect("the slot is given back when the stream ends");
    assert!(third.chunk().await.unwrap().is_some());
    drop(third);
    let back = eventually(|| async {
        let r = chat(&app, &s.token).send().await.unwrap();
        r.status() == 200
    })
    .await;
    assert!(back, "the slot is given back when the client disconnects");
    upstream.gate.add_permits(100);
}

#[tokio::test]
async fn identity_headers_are_bouncers_own_and_anonymous_requests_stop_here() {
    let upstream = Upstream::start().await;
    let app = gateway(&upstream, &[("PUBLIC_PATHS", "/public/*")]).await;
    app.signed_in_user("admin@example.com").await; // the first user is ADMIN
    let s = app.signed_in_user("ada@example.com").await;

    let seen: Value = app
        .bare
        .get(app.url("/api/convos?page=1"))
        .bearer_auth(&s.token)
        .header("X-Auth-User-Id", "someone-else")
        .header("X-Auth-User-Role", "ADMIN")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["x-auth-user-id"], s.user_id.as_str());
    assert_eq!(seen["x-auth-user-email"], "ada@example.com");
    assert_eq!(
        seen["x-auth-user-role"], "USER",
        "the client's copies are gone"
    );
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1");

    let hits = upstream.hits();
    let anonymous = app.bare.get(app.url("/api/convos")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let forged = app
        .bare
        .get(app.url("/api/convos"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(
        upstream.hits(),
        hits,
        "unauthenticated requests never reach the upstream"
    );

    let public: Value = app
        .bare
        .get(app.url("/public/app.js"))
        .header("X-Auth-User-Id", "spoof")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        public.get("x-auth-user-id").is_none(),
        "stripped on public paths too"
    );
    assert_eq!(upstream.hits(), hits + 1);

    let posted: Value = app
        .bare
        .post(app.url("/api/convos/update"))
        .bearer_auth(&s.token)
        .json(&json!({ "title": "streamed through" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted["_body"], r#"{"title":"streamed through"}"#);

    // Bouncer's own routes are still Bouncer's.
    assert_eq!(app.get_user(&s.token).await.status(), 200);
}

#[tokio::test]
async fn an_upstream_that_is_down_gives_502() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let app = spawn_app_with(&[("UPSTREAM_URL", url.as_str())]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let response = app
        .bare
        .get(app.url("/api/convos"))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "message": "Upstream unavailable" })
    );
}

#[tokio::test]
async fn message_limits_score_and_ban() {
    let upstream = Upstream::start().await;
    let app = gateway(
        &upstream,
        &[
            ("LIMIT_MESSAGE_USER", "true"),
            ("MESSAGE_USER_MAX", "2"),
            ("BAN_INTERVAL", "2"),
        ],
    )
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let ask = || {
        app.bare
            .post(app.url("/api/agents/chat/openAI"))
            .bearer_auth(&s.token)
            .header("User-Agent", BROWSER)
            .json(&json!({ "text": "hi" }))
            .send()
    };
    for _ in 0..2 {
        assert_eq!(ask().await.unwrap().status(), 200);
    }
    let limited = ask().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(
        limited.json::<Value>().await.unwrap()["message"],
        "Too many messages, please try again later."
    );
    assert_eq!(
        ask().await.unwrap().status(),
        429,
        "second violation: the score crosses BAN_INTERVAL"
    );
    let banned = ask().await.unwrap();
    assert_eq!(banned.status(), 403, "the ban refuses the next message");
    // Other routes too: the user is banned.
    assert_eq!(
        app.bare
            .get(app.url("/api/convos"))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    // Per IP, and answered as an SSE error to a client that reads a stream.
    let app = gateway(
        &upstream,
        &[("LIMIT_MESSAGE_IP", "true"), ("MESSAGE_IP_MAX", "1")],
    )
    .await;
    let a = app.signed_in_user("a@example.com").await;
    let b = app.signed_in_user("b@example.com").await;
    let sse = |token: String| {
        app.bare
            .post(app.url("/api/agents/chat/openAI"))
            .bearer_auth(token)
            .header("User-Agent", BROWSER)
            .header("Accept", "text/event-stream")
            .json(&json!({}))
            .send()
    };
    assert_eq!(sse(a.token.clone()).await.unwrap().status(), 200);
    let limited = sse(b.token.clone()).await.unwrap();
    assert_eq!(limited.status(), 429, "same IP, another user");
    assert_eq!(limited.headers()["content-type"], "text/event-stream");
    let text = limited.text().await.unwrap();
    assert!(
        text.starts_with("event: error\ndata: ") && text.contains("Too many messages"),
        "{text}"
    );
}

#[tokio::test]
async fn non_browser_clients_of_the_chat_routes_are_scored_but_api_routes_are_exempt() {
    let upstream = Upstream::start().await;
    upstream.gate.add_permits(100);
    let app = gateway(&upstream, &[]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let api = chat(&app, &s.token)
        .header("User-Agent", "OpenAI/Python 3.57.0")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200, "/v1/* is for API clients");
    let _ = api.text().await;

    let curl = app
        .bare
        .post(app.url("/api/agents/chat/openAI"))
        .bearer_auth(&s.token)
        .header("User-Agent", "curl/8.5.0")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(curl.status(), 200);
    assert_eq!(
        curl.text().await.unwrap(),
        "event: error\ndata: {\"message\":\"Illegal request\"}\n\n"
    );
    // NON_BROWSER_VIOLATION_SCORE (20) reaches BAN_INTERVAL (20) at once.
    assert_eq!(
        app.bare
            .get(app.url("/api/convos"))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

#[tokio::test]
async fn forward_auth_answers_with_identity_headers() {
    let app = spawn_app_with(&[("LIMIT_MESSAGE_USER", "true"), ("MESSAGE_USER_MAX", "1")]).await;
    app.signed_in_user("admin@example.com").await;
    let s = app.signed_in_user("ada@example.com").await;
    // Traefik and Caddy (the default family) name the original request X-Forwarded-*.
    let verify = |token: Option<&str>, method: &str, uri: &str| {
        let mut r = app
            .bare
            .get(app.url("/api/auth/verify"))
            .header("X-Forwarded-Method", method)
            .header("X-Forwarded-Uri", uri)
            .header("User-Agent", BROWSER);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let ok = verify(Some(&s.token), "GET", "/api/convos?x=1")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-auth-user-id"], s.user_id.as_str());
    assert_eq!(ok.headers()["x-auth-user-email"], "ada@example.com");
    assert_eq!(ok.headers()["x-auth-user-role"], "USER");
    assert_eq!(
        verify(None, "GET", "/api/convos").await.unwrap().status(),
        401
    );
    assert_eq!(
        verify(Some(&s.token), "POST", "/api/agents/chat/openAI")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        verify(Some(&s.token), "POST", "/api/agents/chat/openAI")
            .await
            .unwrap()
            .status(),
        429,
        "the message limiter of the original URI"
    );

    // nginx's customary names, when the operator says so.
    let app = spawn_app_with(&[("FORWARD_AUTH_HEADERS", "original")]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let nginx = app
        .bare
        .get(app.url("/api/auth/verify"))
        .bearer_auth(&s.token)
        .header("X-Original-Method", "GET")
        .header("X-Original-URI", "/api/convos")
        .send()
        .await
        .unwrap();
    assert_eq!(nginx.status(), 200);
}

#[tokio::test]
async fn the_openai_python_client_streams_through_bouncer_with_a_bouncer_token() {
    let upstream = Upstream::start().await;
    upstream.gate.add_permits(100);
    let app = gateway(&upstream, &[]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/openai/stream_chat.py");
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
    assert_eq!(run(s.token.clone()).await, "REPLY:Hello world");
    let seen = upstream.last_headers.lock().unwrap().clone().unwrap();
    assert_eq!(seen["x-auth-user-id"], s.user_id.as_str());
    assert_eq!(
        run("sk-not-a-bouncer-token".into()).await,
        "ERROR:AuthenticationError:401"
    );
}

#[tokio::test]
async fn forward_auth_behind_a_real_nginx() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&[("FORWARD_AUTH_HEADERS", "original")]).await;
    app.signed_in_user("admin@example.com").await;
    let s = app.signed_in_user("ada@example.com").await;
    let Some(nginx) = Nginx::forward_auth(
        "forward_auth_behind_a_real_nginx",
        &app.base,
        &upstream.url,
        Family::Original,
    )
    .await
    else {
        return;
    };
    let front = nginx.url.clone();

    let through: Value = app
        .bare
        .get(format!("{front}/api/convos"))
        .bearer_auth(&s.token)
        .header("X-Auth-User-Id", "spoofed")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(through["x-auth-user-id"], s.user_id.as_str());
    assert_eq!(through["x-auth-user-role"], "USER");
    let hits = upstream.hits();
    let refused = app
        .bare
        .get(format!("{front}/api/convos"))
        .send()
        .await
        .unwrap();
    // The README's `error_page 401 =302 ...`: nginx sends whoever has no session to sign in.
    assert_eq!(refused.status(), 302);
    assert!(location(&refused).starts_with(crate::proxies::SIGN_IN));
    assert_eq!(
        upstream.hits(),
        hits,
        "nginx kept the anonymous request from the upstream"
    );
}

#[tokio::test]
async fn path_tricks_do_not_escape_the_checks() {
    let upstream = Upstream::start().await;
    // A small score, so the first non-browser request does not ban at once.
    let app = gateway(
        &upstream,
        &[
            ("PUBLIC_PATHS", "/public/*"),
            ("NON_BROWSER_VIOLATION_SCORE", "1"),
        ],
    )
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let hits = upstream.hits();
    // `/public/..%2fapi/convos` is `/api/convos` to a backend that decodes before routing.
    let sneaky = app
        .bare
        .get(app.url("/public/..%2fapi/convos"))
        .send()
        .await
        .unwrap();
    assert_eq!(sneaky.status(), 400, "an encoded slash is refused");
    assert_eq!(upstream.hits(), hits);

    // Express routes without regard to case or doubled slashes: neither do the message checks.
    let upper = app
        .bare
        .post(app.url("/API/Agents/Chat/openAI"))
        .bearer_auth(&s.token)
        .header("User-Agent", "curl/8.5.0")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        upper.text().await.unwrap(),
        "event: error\ndata: {\"message\":\"Illegal request\"}\n\n"
    );
    let doubled = app
        .bare
        .post(app.url("/api//agents/chat/openAI"))
        .bearer_auth(&s.token)
        .header("User-Agent", "curl/8.5.0")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(doubled.text().await.unwrap().starts_with("event: error"));
    assert_eq!(upstream.hits(), hits, "neither reached the upstream");
}
