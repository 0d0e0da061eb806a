//! Limiter evasion by rotating addresses inside one IPv6 prefix: an IPv6 client holds a whole
//! /64 and can send each request from a fresh address of it. Its limits and bans must follow
//! the prefix (`IPV6_PREFIX_LENGTH`, /64 by default), not the address. The client addresses
//! are set with `X-Forwarded-For` from the trusted 127.0.0.1 peer.

use std::process::Command;

use bouncer::clock::Clock;
use bouncer::moderation::Subject;
use serde_json::Value;

use crate::helpers::*;

/// A sign-in with a wrong password (404 until the limiter answers 429, or 403 once banned).
async fn wrong_login_from(app: &TestApp, ip: &str) -> u16 {
    app.login_from(ip, "someone@example.com", "not the password")
        .await
        .status()
        .as_u16()
}

/// The `n`th address of the prefix `2001:db8:<net>::/64`, spread over the interface bits.
fn address(net: &str, n: u32) -> String {
    format!("2001:db8:{net}:{n:x}:{:x}::{n:x}", (n * 1237) % 0x10000)
}

/// The running server's command line, on the test's database.
fn bouncer_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bouncer"))
        .current_dir(app.dir.path())
        .env_clear()
        .env("DATABASE_URL", &app.database_url)
        .env("JWT_SECRET", JWT_SECRET)
        .env("JWT_REFRESH_SECRET", JWT_REFRESH_SECRET)
        .args(args)
        .output()
        .unwrap()
}

/// Class: limiter evasion by rotating addresses inside one IPv6 prefix. Twelve addresses of
/// one /64 share one login budget; an address of another /64 has its own.
#[tokio::test]
async fn addresses_of_one_ipv6_prefix_share_one_login_budget() {
    let app = spawn_app_with(&[("LOGIN_MAX", "5"), ("BAN_VIOLATIONS", "false")]).await;
    let mut statuses = Vec::new();
    for n in 1..=12 {
        statuses.push(wrong_login_from(&app, &address("1:2", n)).await);
    }
    assert_eq!(statuses, [[404; 5].as_slice(), &[429; 7]].concat());
    assert_eq!(wrong_login_from(&app, &address("1:3", 1)).await, 404);
    // IPv4 stays per address.
    for n in 1..=6 {
        assert_eq!(wrong_login_from(&app, &format!("192.0.2.{n}")).await, 404);
    }
}

/// Class: limiter evasion by rotating addresses inside one IPv6 prefix. The ban that follows
/// the violations covers the whole /64 (stored in CIDR form), not the neighbour prefix; a
/// user's ban takes the prefix they came from as well.
#[tokio::test]
async fn the_ban_that_follows_covers_the_whole_prefix_and_not_its_neighbour() {
    let app = spawn_app_with(&[("LOGIN_MAX", "5"), ("BAN_INTERVAL", "3")]).await;
    // Five allowed, three violations: the third bans.
    for n in 1..=8 {
        let status = wrong_login_from(&app, &address("1:2", n)).await;
        assert_eq!(status, if n <= 5 { 404 } else { 429 }, "request {n}");
    }
    assert_eq!(wrong_login_from(&app, &address("1:2", 99)).await, 403);
    assert_eq!(wrong_login_from(&app, "2001:db8:1:2::1").await, 403);
    assert_eq!(wrong_login_from(&app, &address("1:3", 1)).await, 404);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM bans WHERE kind = 'ip' AND subject = $1",
            &["2001:db8:1:2::/64"]
        )
        .await,
        1
    );

    let user = app.signed_in_user("mallory@example.com").await;
    app.ctx
        .moderation
        .ban(
            Subject::User {
                id: &user.user_id,
                ip: address("7:7", 3).parse().unwrap(),
            },
            "non_browser",
            20,
            60_000,
        )
        .await
        .unwrap();
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM bans WHERE kind = 'ip' AND subject = $1",
            &["2001:db8:7:7::/64"]
        )
        .await,
        1
    );
    assert_eq!(wrong_login_from(&app, &address("7:7", 4)).await, 403);
}

/// Class: limiter evasion by rotating addresses inside one IPv6 prefix. The setting is the
/// operator's: a shorter prefix groups more, `IPV6_PREFIX_LENGTH=128` keys every address alone
/// again.
#[tokio::test]
async fn the_prefix_length_is_a_setting_and_128_restores_per_address_keys() {
    let wide = spawn_app_with(&[
        ("LOGIN_MAX", "5"),
        ("BAN_VIOLATIONS", "false"),
        ("IPV6_PREFIX_LENGTH", "48"),
    ])
    .await;
    for n in 1..=6 {
        let status = wrong_login_from(&wide, &address(&format!("1:{n}"), n)).await;
        assert_eq!(status, if n <= 5 { 404 } else { 429 }, "/64 number {n}");
    }

    let app = spawn_app_with(&[
        ("LOGIN_MAX", "5"),
        ("BAN_VIOLATIONS", "false"),
        ("IPV6_PREFIX_LENGTH", "128"),
    ])
    .await;
    for n in 1..=12 {
        assert_eq!(wrong_login_from(&app, &address("1:2", n)).await, 404, "{n}");
    }
    for n in 1..=6 {
        let status = wrong_login_from(&app, "2001:db8:1:2::1").await;
        assert_eq!(status, if n <= 5 { 404 } else { 429 }, "request {n}");
    }
}

/// Class: limiter evasion by rotating addresses inside one IPv6 prefix. `list-bans` shows the
/// prefix, `unban` with any single address of it (or the prefix in CIDR form) lifts it, and a
/// row stored before prefixes (one IPv6 address) still bans that address alone.
#[tokio::test]
async fn the_operator_sees_the_prefix_and_lifts_it_by_any_of_its_addresses() {
    let app = spawn_app().await;
    app.ctx
        .moderation
        .ban(
            Subject::Ip(address("1:2", 5).parse().unwrap()),
            "logins",
            20,
            60_000,
        )
        .await
        .unwrap();
    let listed = bouncer_cli(&app, &["list-bans", "--json"]);
    let v: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(v["total"], 1);
    assert_eq!(v["bans"][0]["subject"], "2001:db8:1:2::/64");
    assert_eq!(v["bans"][0]["who"], "2001:db8:1:2::/64");

    let neighbour = bouncer_cli(&app, &["unban", "2001:db8:1:3::5"]);
    assert_eq!(neighbour.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&neighbour.stderr).contains("is not banned"));
    let lifted = bouncer_cli(&app, &["unban", "2001:db8:1:2::77"]);
    assert!(
        lifted.status.success(),
        "{}",
        String::from_utf8_lossy(&lifted.stderr)
    );
    assert!(String::from_utf8_lossy(&lifted.stdout).contains("2001:db8:1:2::/64"));
    assert_eq!(app.count("SELECT COUNT(*) FROM bans", &[]).await, 0);
    app.ctx.moderation.sync_bans().await.unwrap();
    assert_eq!(wrong_login_from(&app, &address("1:2", 5)).await, 404);

    // A row from before IPv6 prefixes: one address, kept as a /128.
    let now = app.clock.now_ms();
    let old = bouncer::store::bans::Ban {
        kind: "ip".into(),
        subject: "2001:db8:5::9".into(),
        user_id: None,
        violation_type: "logins".into(),
        score: 20,
        duration_ms: 60_000,
        created_at: now,
        expires_at: now + 60_000,
    };
    bouncer::store::bans::upsert(&app.ctx.db, &old)
        .await
        .unwrap();
    app.ctx.moderation.sync_bans().await.unwrap();
    assert_eq!(wrong_login_from(&app, "2001:db8:5::9").await, 403);
    assert_eq!(wrong_login_from(&app, "2001:db8:5::a").await, 404);
    let by_prefix = bouncer_cli(&app, &["unban", "2001:db8:5::/64"]);
    assert!(
        by_prefix.status.success(),
        "{}",
        String::from_utf8_lossy(&by_prefix.stderr)
    );
    app.ctx.moderation.sync_bans().await.unwrap();
    assert_eq!(wrong_login_from(&app, "2001:db8:5::9").await, 404);
}

/// Class: limiter evasion by rotating addresses inside one IPv6 prefix (and, next to it, by
/// writing one's own `X-Forwarded-For` from a trusted network). The server says once at start
/// whose `X-Forwarded-For` it believes and by which prefix it keys IPv6 clients.
#[tokio::test]
async fn the_start_up_log_states_the_client_ip_rule() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::binary::start(dir.path(), &[("IPV6_PREFIX_LENGTH", "56")]).await;
    let log = server.stop();
    let notices: Vec<&str> = log.lines().filter(|l| l.contains("client IP:")).collect();
    assert_eq!(notices.len(), 1, "{log}");
    let notice = notices[0];
    for needed in [
        "INFO",
        "TRUSTED_PROXIES",
        "127.0.0.0/8",
        "192.168.0.0/16",
        "can write its own X-Forwarded-For",
        "per /56 prefix",
    ] {
        assert!(notice.contains(needed), "{needed:?} not in {notice}");
    }
}
