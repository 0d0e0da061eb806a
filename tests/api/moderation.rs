//! The Automated Moderation System over HTTP, with the injected clock.

use std::net::IpAddr;

use bouncer::error::Error;
use bouncer::moderation::{Limiter, Subject};
use serde_json::json;

use crate::helpers::*;

const BANNED: &str = "Your account has been temporarily banned due to violations of our service.";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn login_limiter_counts_every_request_and_resets_with_its_window() {
    let app = spawn_app_with(&[
        ("LOGIN_MAX", "3"),
        ("LOGIN_WINDOW", "5"),
        ("BAN_VIOLATIONS", "false"),
    ])
    .await;
    app.register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
    assert_eq!(
        app.login("ada@example.com", "wrong password")
            .await
            .status(),
        404
    );
    assert_eq!(
        app.login("nobody@example.com", "wrong password")
            .await
            .status(),
        404
    );
    assert_eq!(
        status_and_message(app.login("ada@example.com", PASSWORD).await).await,
        (
            429,
            "Too many login attempts, please try again after 5 minutes.".into()
        )
    );
    app.clock.advance_ms(5 * 60 * 1000);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn register_limiter_message_follows_its_window() {
    let app = spawn_app_with(&[("REGISTER_MAX", "2"), ("REGISTER_WINDOW", "30")]).await;
    assert_eq!(
        app.register("Person One", "one@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.register("Person Two", "two@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(
        status_and_message(
            app.register("Person Three", "three@example.com", PASSWORD)
                .await
        )
        .await,
        (
            429,
            "Too many accounts created, please try again after 30 minutes".into()
        )
    );
    app.clock.advance_ms(30 * 60 * 1000);
    assert_eq!(
        app.register("Person Three", "three@example.com", PASSWORD)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn the_other_limiters_have_their_windows_and_messages() {
    let app = spawn_app_with(&[
        ("BAN_VIOLATIONS", "false"),
        ("RESET_PASSWORD_MAX", "3"),
        // The harness opens these wide; the defaults (spec §5.4) are restored here.
        ("RESET_PASSWORD_SUBMISSION_MAX", "3"),
        ("VERIFY_EMAIL_MAX", "2"),
        ("VERIFY_EMAIL_SUBMISSION_MAX", "2"),
        ("VERIFY_EMAIL_WINDOW", "4"),
        ("TWO_FACTOR_TEMP_MAX", "2"),
    ])
    .await;
    let limiters = app.ctx.moderation.limiters.clone();
    let cases: [(&Limiter, u64, u64, &str); 5] = [
        (
            &limiters.reset_password,
            3,
            2,
            "Too many attempts, please try again after 2 minute(s)",
        ),
        (
            &limiters.reset_password_submission,
            3,
            2,
            "Too many attempts, please try again after 2 minute(s)",
        ),
        (
            &limiters.verify_email,
            2,
            4,
            "Too many attempts, please try again after 4 minute(s)",
        ),
        (
            &limiters.verify_email_submission,
            2,
            4,
            "Too many attempts, please try again after 4 minute(s)",
        ),
        (
            &limiters.two_factor_temp,
            2,
            5,
            "Too many verification attempts, please try again after 5 minutes.",
        ),
    ];
    for (limiter, max, window_minutes, text) in cases {
        let subject = Subject::Ip(ip("192.0.2.44"));
        for _ in 0..max {
            app.ctx.moderation.limit(limiter, subject).await.unwrap();
        }
        match app.ctx.moderation.limit(limiter, subject).await {
            Err(Error::RateLimited(m)) => assert_eq!(m, text, "{}", limiter.name),
            other => panic!("{}: expected a 429, got {other:?}", limiter.name),
        }
        app.clock.advance_ms(window_minutes as i64 * 60_000);
        app.ctx.moderation.limit(limiter, subject).await.unwrap();
    }
}

#[tokio::test]
async fn anonymous_login_abuse_bans_the_ip_but_never_the_victims_account() {
    let app = spawn_app_with(&[
        ("LOGIN_MAX", "2"),
        ("BAN_INTERVAL", "3"),
        ("BAN_DURATION", "1000 * 60 * 10"),
    ])
    .await;
    app.register("Victim Person", "victim@example.com", PASSWORD)
        .await;
    let attacker = "203.0.113.9";
    for _ in 0..2 {
        assert_eq!(
            app.login_from(attacker, "victim@example.com", "guess guess")
                .await
                .status(),
            404
        );
    }
    for _ in 0..3 {
        let (status, text) = status_and_message(
            app.login_from(attacker, "victim@example.com", "guess guess")
                .await,
        )
        .await;
        assert_eq!(status, 429, "{text}");
    }
    // The third violation crossed the interval: the IP is banned, and the ban comes before
    // the limiter.
    assert_eq!(
        status_and_message(
            app.login_from(attacker, "victim@example.com", PASSWORD)
                .await
        )
        .await,
        (403, BANNED.into())
    );
    assert_eq!(
        status_and_message(app.register_from(attacker, "new@example.com").await).await,
        (403, BANNED.into())
    );
    let bans = app
        .count(
            "SELECT COUNT(*) FROM bans WHERE kind = 'ip' AND subject = $1",
            &[attacker],
        )
        .await;
    assert_eq!(bans, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM bans WHERE kind = 'user'", &[])
            .await,
        0
    );

    // The victim, from elsewhere, is untouched.
    assert_eq!(
        app.login_from("198.51.100.20", "victim@example.com", PASSWORD)
            .await
            .status(),
        200
    );

    // A restart keeps the ban.
    let restarted = bouncer::AppContext::build(app.ctx.config.clone(), app.clock.clone())
        .await
        .unwrap();
    let base = serve(restarted).await;
    let after_restart = post_json_from(
        &app.bare,
        format!("{base}/api/auth/login"),
        attacker,
        &json!({"email": "victim@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(after_restart.status(), 403);

    // Expiry lifts it.
    app.clock.advance_ms(10 * 60 * 1000);
    assert_eq!(
        app.login_from(attacker, "victim@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    app.ctx.moderation.purge_expired().await.unwrap();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM bans", &[]).await,
        0,
        "expired bans are cleaned up"
    );
}

#[tokio::test]
async fn a_banned_user_is_refused_everywhere_and_loses_every_session() {
    let app = spawn_app().await;
    let mallory = app.signed_in_user("mallory@example.com").await;
    let other = app.signed_in_user("other@example.com").await;
    let banned = app
        .ctx
        .moderation
        .violation(
            Subject::User {
                id: &mallory.user_id,
                ip: ip("198.51.100.7"),
            },
            "non_browser",
            20,
        )
        .await
        .unwrap();
    assert!(banned, "a single score-20 hit bans");

    // Every session and access token of the user ends at once; a refresh is told of the ban.
    assert_eq!(app.get_user(&mallory.token).await.status(), 401);
    assert_eq!(
        status_and_message(app.refresh_with_cookie(&mallory.refresh, "").await).await,
        (403, BANNED.into())
    );
    // Refused from any IP, at login and at registration.
    assert_eq!(
        status_and_message(
            app.login_from("203.0.113.50", "mallory@example.com", PASSWORD)
                .await
        )
        .await,
        (403, BANNED.into())
    );
    assert_eq!(
        status_and_message(
            app.register_from("203.0.113.51", "MALLORY@example.com")
                .await
        )
        .await,
        (403, BANNED.into())
    );
    // The IP she came from is banned too, on every authenticated route.
    let from_banned_ip = app
        .bare
        .get(app.url("/api/user"))
        .bearer_auth(&other.token)
        .header("X-Forwarded-For", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_message(from_banned_ip).await,
        (403, BANNED.into())
    );
    assert_eq!(app.get_user(&other.token).await.status(), 200);
}

#[tokio::test]
async fn scores_follow_librechat_arithmetic() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let user = Subject::User {
        id: &s.user_id,
        ip: ip("192.0.2.1"),
    };
    let m = &app.ctx.moderation;
    assert!(
        !m.violation(user, "logins", 19).await.unwrap(),
        "0 → 19 does not ban"
    );
    assert!(
        !m.violation(user, "registrations", 19).await.unwrap(),
        "types are never summed"
    );
    assert!(!m.violation(user, "logins", 0).await.unwrap());
    assert_eq!(app.get_user(&s.token).await.status(), 200);
    assert!(
        m.violation(user, "logins", 1).await.unwrap(),
        "19 → 20 bans"
    );
    assert_eq!(app.get_user(&s.token).await.status(), 401);
}

#[tokio::test]
async fn with_bans_off_limiters_still_answer_429() {
    let app = spawn_app_with(&[
        ("BAN_VIOLATIONS", "false"),
        ("LOGIN_MAX", "1"),
        ("BAN_INTERVAL", "1"),
    ])
    .await;
    for _ in 0..3 {
        app.login_from("203.0.113.1", "a@example.com", PASSWORD)
            .await;
    }
    assert_eq!(
        app.login_from("203.0.113.1", "a@example.com", PASSWORD)
            .await
            .status(),
        429
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM bans", &[]).await, 0);
}

#[tokio::test]
async fn a_soft_ban_ends_sessions_but_bans_nothing() {
    let app = spawn_app_with(&[("BAN_DURATION", "0")]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let subject = Subject::User {
        id: &s.user_id,
        ip: ip("192.0.2.1"),
    };
    assert!(app
        .ctx
        .moderation
        .violation(subject, "concurrent", 20)
        .await
        .unwrap());
    assert_eq!(app.get_user(&s.token).await.status(), 401);
    assert_eq!(app.count("SELECT COUNT(*) FROM bans", &[]).await, 0);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn twenty_five_parallel_attempts_let_exactly_the_limit_through() {
    let app = spawn_app_with(&[("LOGIN_MAX", "5"), ("BAN_VIOLATIONS", "false")]).await;
    app.register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    let attempts = (0..25).map(|i| {
        let app = &app;
        async move {
            let password = if i % 2 == 0 {
                PASSWORD
            } else {
                "wrong password"
            };
            app.login_from("203.0.113.77", "ada@example.com", password)
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    let through = statuses.iter().filter(|s| **s != 429).count();
    assert_eq!(through, 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 20);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let spoofers = ["198.51.100.1", "198.51.100.2", "198.51.100.3"];
    // Default: the peer (127.0.0.1) is a trusted proxy, so each address is its own client.
    let trusting = spawn_app_with(&[("LOGIN_MAX", "2")]).await;
    for ip in spoofers {
        assert_eq!(
            trusting
                .login_from(ip, "a@example.com", PASSWORD)
                .await
                .status(),
            404,
            "{ip}"
        );
    }
    // TRUST_PROXY=0 ignores the header: all three are the same client.
    let no_proxy = spawn_app_with(&[
        ("LOGIN_MAX", "2"),
        ("TRUST_PROXY", "0"),
        ("BAN_VIOLATIONS", "false"),
    ])
    .await;
    // An untrusted peer's header is ignored too.
    let untrusted = spawn_app_with(&[
        ("LOGIN_MAX", "2"),
        ("TRUSTED_PROXIES", "10.0.0.0/8"),
        ("BAN_VIOLATIONS", "false"),
    ])
    .await;
    for app in [&no_proxy, &untrusted] {
        let mut statuses = Vec::new();
        for ip in spoofers {
            statuses.push(
                app.login_from(ip, "a@example.com", PASSWORD)
                    .await
                    .status()
                    .as_u16(),
            );
        }
        assert_eq!(statuses, [404, 404, 429]);
    }
}

#[tokio::test]
async fn concurrent_requests_are_capped_per_user_and_scored() {
    let app = spawn_app_with(&[("CONCURRENT_MESSAGE_MAX", "2"), ("BAN_INTERVAL", "2")]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let (m, at) = (&app.ctx.moderation, ip("192.0.2.8"));
    assert!(m.enter(&s.user_id, at).await.unwrap());
    assert!(m.enter(&s.user_id, at).await.unwrap());
    assert!(
        !m.enter(&s.user_id, at).await.unwrap(),
        "a third in flight is refused"
    );
    m.leave(&s.user_id).await.unwrap();
    assert!(
        m.enter(&s.user_id, at).await.unwrap(),
        "a finished request frees its slot"
    );
    assert_eq!(app.get_user(&s.token).await.status(), 200);
    assert!(!m.enter(&s.user_id, at).await.unwrap());
    // Two refusals crossed BAN_INTERVAL=2: the user is banned.
    assert_eq!(app.get_user(&s.token).await.status(), 401);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 403);
}
