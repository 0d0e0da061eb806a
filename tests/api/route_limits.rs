//! LibreChat's limiters of its other costly routes, through the gateway with a real upstream:
//! under, at and over each limit, the violation scored against the user, the ban, the SSE
//! frame for a stream client; the decay of scores with the manual clock; and the other rules
//! that keep the limits from being exhausted (the ban check after the IP limiter, the bounded
//! hash queue, a banned IP's refresh).

use bouncer::clock::Clock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::upstream_peer::Upstream;

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/// One limiter as a client meets it.
struct Case {
    method: Method,
    path: &'static str,
    /// `*_IP_MAX`, when the limiter has a per-IP window.
    ip_max: Option<&'static str>,
    /// `*_USER_MAX`, when it can be set (tool calls and prompt usage have LibreChat's fixed
    /// limits: one per second, and 30 per minute).
    user_max: Option<&'static str>,
    message: &'static str,
}

const CASES: &[Case] = &[
    Case {
        // Every method counts: the voices list too.
        method: Method::GET,
        path: "/api/files/speech/tts/voices",
        ip_max: Some("TTS_IP_MAX"),
        user_max: Some("TTS_USER_MAX"),
        message: "Too many TTS requests. Try again later",
    },
    Case {
        method: Method::POST,
        path: "/api/files/speech/stt",
        ip_max: Some("STT_IP_MAX"),
        user_max: Some("STT_USER_MAX"),
        message: "Too many STT requests. Try again later",
    },
    Case {
        method: Method::POST,
        path: "/api/files/usage/",
        ip_max: None,
        user_max: Some("FILE_USAGE_USER_MAX"),
        message: "Too many file usage requests. Try again later",
    },
    Case {
        method: Method::POST,
        path: "/api/files/images",
        ip_max: Some("FILE_UPLOAD_IP_MAX"),
        user_max: Some("FILE_UPLOAD_USER_MAX"),
        message: "Too many file upload requests. Try again later",
    },
    Case {
        method: Method::POST,
        path: "/api/convos/import",
        ip_max: Some("IMPORT_IP_MAX"),
        user_max: Some("IMPORT_USER_MAX"),
        message: "Too many conversation import requests. Try again later",
    },
    Case {
        method: Method::POST,
        path: "/api/share/Ab3/fork",
        ip_max: Some("FORK_IP_MAX"),
        user_max: Some("FORK_USER_MAX"),
        message: "Too many requests. Try again later",
    },
    Case {
        method: Method::POST,
        path: "/api/agents/tools/web_search/call",
        ip_max: None,
        user_max: None,
        message: "Too many tool call requests. Try again later",
    },
];

fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    ip: &str,
    stream: bool,
) -> reqwest::RequestBuilder {
    let mut request = app
        .bare
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("User-Agent", BROWSER)
        .header("X-Forwarded-For", ip);
    if stream {
        request = request.header("Accept", "text/event-stream");
    }
    request.json(&json!({ "text": "hi" }))
}

#[tokio::test]
async fn each_route_limiter_counts_refuses_scores_and_bans() {
    let upstream = Upstream::start().await;
    // User windows of 2 and IP windows of 3 for every limiter that has them; two violations
    // of a type ban.
    let mut vars = vec![
        ("UPSTREAM_URL", upstream.url.as_str()),
        ("BAN_INTERVAL", "2"),
    ];
    for case in CASES {
        if let Some(v) = case.ip_max {
            vars.push((v, "3"));
        }
        if let Some(v) = case.user_max {
            vars.push((v, "2"));
        }
    }
    let app = spawn_app_with(&vars).await;
    for (n, case) in CASES.iter().enumerate() {
        let ip = format!("198.51.100.{}", n + 1);
        let first = app.signed_in_user(&format!("first{n}@example.com")).await;
        let second = app.signed_in_user(&format!("second{n}@example.com")).await;
        let go = |s: &Session, stream: bool| {
            send(&app, case.method.clone(), case.path, &s.token, &ip, stream).send()
        };
        let allowed = if case.user_max.is_some() { 2 } else { 1 };
        let hits = upstream.hits();
        for i in 0..allowed {
            let r = go(&first, false).await.unwrap();
            assert_eq!(r.status(), 200, "{} request {}", case.path, i + 1);
        }
        assert_eq!(upstream.hits(), hits + allowed, "{}", case.path);

        // Over the user's limit: LibreChat's 429 and message, a first violation.
        let (status, message) = status_and_message(go(&first, false).await.unwrap()).await;
        assert_eq!(
            (status, message.as_str()),
            (429, case.message),
            "{}",
            case.path
        );
        if case.ip_max.is_some() {
            // The IP's window is full too (3 counted): another user from it is refused, and
            // the violation is that user's.
            let (status, message) = status_and_message(go(&second, false).await.unwrap()).await;
            assert_eq!(
                (status, message.as_str()),
                (429, case.message),
                "{} per IP",
                case.path
            );
        }
        // A stream client is told in an SSE error frame; the second violation bans.
        let limited = go(&first, true).await.unwrap();
        assert_eq!(limited.status(), 429, "{}", case.path);
        assert_eq!(limited.headers()["content-type"], "text/event-stream");
        let text = limited.text().await.unwrap();
        assert!(
            text.starts_with("event: error\ndata: ") && text.contains(case.message),
            "{}: {text}",
            case.path
        );
        let banned = go(&first, false).await.unwrap();
        assert_eq!(banned.status(), 403, "{}: the user is banned", case.path);
        let banned = go(&second, false).await.unwrap();
        assert_eq!(banned.status(), 403, "{}: and so is the IP", case.path);
        let banned = go(&first, true).await.unwrap();
        assert_eq!(banned.status(), 403);
        assert_eq!(banned.headers()["content-type"], "text/event-stream");
        assert!(banned.text().await.unwrap().contains("temporarily banned"));
        assert_eq!(
            upstream.hits(),
            hits + allowed,
            "{}: nothing refused reached the upstream",
            case.path
        );
    }

    // The tool-call limit is per second: the next second lets one more through.
    let s = app.signed_in_user("tools@example.com").await;
    let call = || {
        send(
            &app,
            Method::POST,
            "/api/agents/tools/calculator/call",
            &s.token,
            "198.51.100.200",
            false,
        )
        .send()
    };
    assert_eq!(call().await.unwrap().status(), 200);
    assert_eq!(call().await.unwrap().status(), 429);
    app.clock.advance_ms(1_000);
    assert_eq!(call().await.unwrap().status(), 200);
}

#[tokio::test]
async fn prompt_usage_is_limited_but_never_scored_and_other_methods_and_routes_pass() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&[
        ("UPSTREAM_URL", upstream.url.as_str()),
        ("BAN_INTERVAL", "1"),
    ])
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let ip = "198.51.100.7";
    let used = || {
        send(
            &app,
            Method::POST,
            "/api/prompts/groups/g1/use",
            &s.token,
            ip,
            false,
        )
    };
    for _ in 0..30 {
        assert_eq!(used().send().await.unwrap().status(), 200);
    }
    for _ in 0..3 {
        let (status, message) = status_and_message(used().send().await.unwrap()).await;
        assert_eq!(
            (status, message.as_str()),
            (429, "Too many prompt usage requests. Try again later")
        );
    }
    // LibreChat records no violation for it: nothing bans, even with BAN_INTERVAL=1.
    let convos = send(&app, Method::GET, "/api/convos", &s.token, ip, false);
    assert_eq!(convos.send().await.unwrap().status(), 200);

    // A GET of an upload route is no upload, and an unlisted route has no limiter: many pass.
    for _ in 0..60 {
        let list = send(&app, Method::GET, "/api/files", &s.token, ip, false);
        assert_eq!(list.send().await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn route_lists_can_be_changed_for_another_backend() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&[
        ("UPSTREAM_URL", upstream.url.as_str()),
        ("TTS_ROUTES", "/v1/audio/speech"),
        ("TTS_USER_MAX", "1"),
        ("FILE_UPLOAD_ROUTES", "/v1/files,!/v1/files/usage"),
        ("FILE_UPLOAD_USER_MAX", "1"),
    ])
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let ip = "198.51.100.9";
    let go = |path: &str| send(&app, Method::POST, path, &s.token, ip, false).send();
    assert_eq!(go("/v1/audio/speech").await.unwrap().status(), 200);
    assert_eq!(
        go("/V1/Audio/Speech/").await.unwrap().status(),
        429,
        "case and slash"
    );
    assert_eq!(go("/v1/files").await.unwrap().status(), 200);
    assert_eq!(go("/v1/files").await.unwrap().status(), 429);
    assert_eq!(
        go("/v1/files/usage").await.unwrap().status(),
        200,
        "taken out by !"
    );
    // LibreChat's own speech and upload routes are in no list now.
    for _ in 0..3 {
        assert_eq!(go("/api/files/speech/tts").await.unwrap().status(), 200);
        assert_eq!(go("/api/files/images").await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn scores_are_forgotten_a_window_after_the_last_violation() {
    let upstream = Upstream::start().await;
    for (window, banned_after_a_quiet_day) in [("1440", false), ("0", true)] {
        let app = spawn_app_with(&[
            ("UPSTREAM_URL", upstream.url.as_str()),
            ("FORK_USER_MAX", "1"),
            ("BAN_INTERVAL", "2"),
            ("VIOLATION_SCORE_WINDOW", window),
        ])
        .await;
        let s = app.signed_in_user("ada@example.com").await;
        let fork = |token: &str| {
            send(
                &app,
                Method::POST,
                "/api/convos/fork",
                token,
                "198.51.100.3",
                false,
            )
        };
        assert_eq!(fork(&s.token).send().await.unwrap().status(), 200);
        assert_eq!(
            fork(&s.token).send().await.unwrap().status(),
            429,
            "score 1"
        );
        // A day and a minute later (the limiter's window has long ended too), signed in anew.
        app.clock.advance_ms(24 * 3_600_000 + 60_000);
        let s = app.signed_in_user_again("ada@example.com").await;
        let fork = || fork(&s.token);
        assert_eq!(fork().send().await.unwrap().status(), 200);
        assert_eq!(fork().send().await.unwrap().status(), 429);
        let next = fork().send().await.unwrap().status();
        if banned_after_a_quiet_day {
            // LibreChat's rule: the old violation still counted, 1 + 1 crossed 2 and banned.
            assert_eq!(next, 403, "VIOLATION_SCORE_WINDOW=0 keeps scores forever");
        } else {
            assert_eq!(next, 429, "the score started again from zero: 1, not yet 2");
            assert_eq!(
                fork().send().await.unwrap().status(),
                403,
                "steady abuse still bans"
            );
        }
    }
}

#[tokio::test]
async fn a_banned_email_is_not_revealed_to_a_prober_the_limiter_stopped() {
    let app = spawn_app_with(&[("LOGIN_MAX", "2")]).await;
    let banned = app.signed_in_user("banned@example.com").await;
    app.signed_in_user("other@example.com").await;
    let m = &app.ctx.moderation;
    m.ban(
        bouncer::moderation::Subject::User {
            id: &banned.user_id,
            ip: "0.0.0.0".parse().unwrap(),
        },
        "test",
        20,
        3_600_000,
    )
    .await
    .unwrap();
    let prober = "203.0.113.50";
    for _ in 0..2 {
        let r = app.login_from(prober, "other@example.com", "wrong").await;
        assert_eq!(r.status(), 404);
    }
    // Limited: a banned and a not-banned email get the same 429.
    for email in [
        "banned@example.com",
        "other@example.com",
        "nobody@example.com",
    ] {
        let (status, _) = status_and_message(app.login_from(prober, email, "wrong").await).await;
        assert_eq!(status, 429, "{email}");
    }
    // Elsewhere, the ban is told, with until when.
    let r = app
        .login_from("203.0.113.51", "banned@example.com", PASSWORD)
        .await;
    assert_eq!(r.status(), 403);
    let retry_after: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3_500..=3_600).contains(&retry_after), "{retry_after}");
    let body: Value = r.json().await.unwrap();
    let now = app.clock.now_ms();
    assert_eq!(
        body["message"],
        "Your account has been temporarily banned due to violations of our service."
    );
    assert_eq!(body["type"], "ban");
    let expires = body["expiresAt"].as_i64().unwrap();
    assert!(
        (now + 3_500_000..=now + 3_600_000).contains(&expires),
        "{body}"
    );
    assert!(body["until"].as_str().unwrap().ends_with(" UTC"), "{body}");
}

#[tokio::test]
async fn a_banned_ip_cannot_renew_a_session() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let banned_ip = "203.0.113.60";
    app.ctx
        .moderation
        .ban(
            bouncer::moderation::Subject::Ip(banned_ip.parse().unwrap()),
            "test",
            20,
            3_600_000,
        )
        .await
        .unwrap();
    let refresh = |ip: &str| {
        app.bare
            .post(app.url("/api/auth/refresh"))
            .header("X-Forwarded-For", ip)
            .header(
                "Cookie",
                format!("refreshToken={}; token_provider=librechat", s.refresh),
            )
            .send()
    };
    let refused = refresh(banned_ip).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        cookie_value(refused.headers(), "refreshToken").is_none(),
        "no new refresh token"
    );
    // The session itself was not rotated away: elsewhere it renews.
    assert_eq!(refresh("203.0.113.61").await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_full_hash_queue_answers_503_at_once_while_token_requests_pass() {
    let app = spawn_app_with(&[("PASSWORD_HASH_QUEUE_MAX", "1")]).await;
    let s = app.signed_in_user("ada@example.com").await;
    // A login flood from many addresses (each under its own limiter window).
    let flood: Vec<_> = (0..48)
        .map(|n| {
            let client = app.bare.clone();
            let url = app.url("/api/auth/login");
            tokio::spawn(async move {
                client
                    .post(url)
                    .header("X-Forwarded-For", format!("198.18.0.{n}"))
                    .json(&json!({ "email": "ada@example.com", "password": "not the password" }))
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    // Token-authenticated requests never wait for a hashing thread.
    for _ in 0..5 {
        assert_eq!(app.get_user(&s.token).await.status(), 200);
    }
    let mut busy = 0;
    for answer in flood {
        let r = answer.await.unwrap();
        match r.status().as_u16() {
            404 => {}
            503 => {
                busy += 1;
                assert_eq!(r.headers()["retry-after"], "1");
                let body: Value = r.json().await.unwrap();
                assert_eq!(
                    body["message"],
                    "The server is busy, please try again in a moment."
                );
            }
            other => panic!("a login in the flood answered {other}"),
        }
    }
    assert!(
        busy > 0,
        "48 logins at once through a queue of one: some were refused"
    );
    // The flood over, logins work again.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
}
