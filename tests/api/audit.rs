//! The audit log: what the use cases record (a scripted scenario, event by event), the admin
//! API that reads it (permissions, filters, the cursor, the export), retention by the manual
//! clock, the account page's recent activity, and a clean shutdown that loses nothing.

use bouncer::accounts::validation::RegistrationInput;
use bouncer::accounts::{RegisterOptions, Registration};
use bouncer::audit::{Event, Kind};
use bouncer::clock::Clock;
use bouncer::store::users::Role;
use serde_json::{json, Value};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::*;
use crate::mail_peers::*;

/// The code an authenticator app shows for this Base32 secret at the app's current time.
fn code_at(secret: &str, app: &TestApp) -> String {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, bytes)
        .generate((app.clock.now_ms() / 1000) as u64)
}

fn secret_of(otpauth_url: &str) -> String {
    url::Url::parse(otpauth_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned()
}

/// `GET /api/bouncer/<path>` with this token (none: no `Authorization`).
async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = app.bare.get(app.url(&format!("/api/bouncer/{path}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// A page of events, after everything recorded so far is stored.
async fn audit(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    app.ctx.audit.flush().await;
    status_and_json(get(app, &format!("audit?{query}"), Some(token)).await).await
}

fn kinds(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// An admin made through the accounts service (verified; no event), signed in.
async fn admin(app: &TestApp, email: &str) -> Session {
    let input = RegistrationInput {
        name: Some("Ops Person".into()),
        username: None,
        email: Some(email.into()),
        password: Some(PASSWORD.into()),
        confirm_password: Some(PASSWORD.into()),
    };
    let options = RegisterOptions {
        email_verified: Some(true),
        role: Some(Role::Admin),
        invite_token_id: None,
    };
    match app.ctx.accounts.register(&input, &options).await.unwrap() {
        Registration::Created(_) => {}
        Registration::EmailTaken => panic!("email taken"),
    }
    app.signed_in_user_again(email).await
}

/// The login limiter's window (LOGIN_WINDOW's default, 5 minutes) and a minute more.
const PAST_LOGIN_WINDOW_MS: i64 = 6 * 60_000;

#[tokio::test]
async fn a_scripted_scenario_records_exactly_its_events_and_none_of_its_secrets() {
    let mut smtp = SmtpPeer::start().await;
    let peer = smtp.vars();
    let mut vars: Vec<(&str, &str)> = peer.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.extend_from_slice(&[
        ("ALLOW_PASSWORD_RESET", "true"),
        ("LOGIN_MAX", "2"),
        // The code checks have a limiter of their own, which LOGIN_MAX would set.
        ("TWO_FACTOR_TEMP_MAX", "100"),
        // The reader is an admin without 2FA (the admin gate's own rule is tested elsewhere).
        ("REQUIRE_2FA_FOR_ADMINS", "false"),
        ("BAN_INTERVAL", "2"),
        ("BAN_DURATION", "1000 * 60 * 10"),
    ]);
    let app = spawn_app_with(&vars).await;
    let ops = admin(&app, "ops@example.com").await;
    app.clock.advance_ms(PAST_LOGIN_WINDOW_MS);
    let mut secrets: Vec<String> = vec![PASSWORD.into(), ops.token.clone(), ops.refresh.clone()];

    // Register, then verify the email with the mailed link.
    assert_eq!(
        app.register("Ada Lovelace", "ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    let link = link_in(
        smtp.next_message().await["text"].as_str().unwrap(),
        "http://chat.test/verify?",
    );
    let verify_token = query_param(&link, "token");
    secrets.push(verify_token.clone());
    assert_eq!(
        app.verify_email("ada@example.com", &verify_token).await.0,
        200
    );

    // A wrong password, then the right one.
    let wrong = "not the password at all";
    secrets.push(wrong.into());
    assert_eq!(app.login("ada@example.com", wrong).await.status(), 404);
    let ada = app.signed_in_user_again("ada@example.com").await;
    secrets.extend([ada.token.clone(), ada.refresh.clone()]);
    app.clock.advance_ms(PAST_LOGIN_WINDOW_MS);

    // Two-factor on.
    let (status, body) = app.enable_2fa(&ada.token).await;
    assert_eq!(status, 200, "{body}");
    let secret = secret_of(body["otpauthUrl"].as_str().unwrap());
    let backup: Vec<String> = serde_json::from_value(body["backupCodes"].clone()).unwrap();
    secrets.push(secret.clone());
    let confirm_code = code_at(&secret, &app);
    assert_eq!(app.confirm_2fa(&ada.token, &confirm_code).await.0, 200);
    app.clock.advance_ms(30_000);

    // A login with a wrong code, then the right one; then one with a backup code.
    let temp = |r: Value| r["tempToken"].as_str().unwrap().to_string();
    let (_, first) = status_and_json(app.login("ada@example.com", PASSWORD).await).await;
    let temp_token = temp(first);
    secrets.push(temp_token.clone());
    let code = code_at(&secret, &app);
    let bad_code = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(app.verify_temp(&temp_token, bad_code).await.0, 401);
    let (status, body) = app.verify_temp(&temp_token, &code).await;
    assert_eq!(status, 200, "{body}");
    let (_, first) = status_and_json(app.login("ada@example.com", PASSWORD).await).await;
    let temp_token = temp(first);
    let (status, body) = app.verify_temp_backup(&temp_token, &backup[0]).await;
    assert_eq!(status, 200, "{body}");
    secrets.push(body["token"].as_str().unwrap().to_string());
    app.clock.advance_ms(PAST_LOGIN_WINDOW_MS);

    // The emailed reset.
    assert_eq!(app.request_password_reset("ada@example.com").await.0, 200);
    let link = link_in(
        smtp.next_message().await["text"].as_str().unwrap(),
        "http://chat.test/reset-password?",
    );
    let (user_id, reset_token) = (query_param(&link, "userId"), query_param(&link, "token"));
    let new_password = "a brand new long password";
    secrets.extend([reset_token.clone(), new_password.to_string()]);
    let (status, body) = app
        .reset_password(&user_id, &reset_token, new_password, Some(new_password))
        .await;
    assert_eq!(status, 200, "{body}");

    // A new session, which its user then signs out (the account page's use case).
    let (_, first) = status_and_json(app.login("ada@example.com", new_password).await).await;
    app.clock.advance_ms(30_000);
    let (status, body) = app.verify_temp(&temp(first), &code_at(&secret, &app)).await;
    assert_eq!(status, 200, "{body}");
    let sid = jwt_payload(body["token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    bouncer::usecases::account::revoke_session(&app.ctx, &user_id, &sid)
        .await
        .unwrap();

    // An attacker guessing accounts: refused by the limiter, then banned.
    let attacker = "203.0.113.9";
    for expected in [404, 404, 429, 429, 403] {
        let answer = app.login_from(attacker, "nobody@example.com", wrong).await;
        assert_eq!(answer.status(), expected);
    }

    // ops's first token has expired meanwhile (the clock moved on).
    let ops = app.signed_in_user_again("ops@example.com").await;
    secrets.push(ops.token.clone());
    let (status, page) = audit(&app, &ops.token, "limit=500").await;
    assert_eq!(status, 200, "{page}");
    let ops_id = ops.user_id.as_str();
    let mut events: Vec<Value> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["user_id"].as_str() != Some(ops_id))
        .cloned()
        .collect();
    events.reverse();
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            let what = e["detail"]["reason"]
                .as_str()
                .or(e["detail"]["second_factor"].as_str())
                .or(e["detail"]["method"].as_str())
                .unwrap_or("");
            (e["kind"].as_str().unwrap().to_string(), what.to_string())
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("registered", "password"),
        ("email.verified", ""),
        ("sign_in.failed", "invalid_credentials"),
        ("sign_in.succeeded", "password"),
        ("two_factor.enabled", ""),
        ("sign_in.failed", "second_factor_failed"),
        ("sign_in.succeeded", "totp"),
        ("two_factor.backup_code_used", ""),
        ("sign_in.succeeded", "backup_code"),
        ("password_reset.requested", ""),
        ("password_reset.done", ""),
        ("sign_in.succeeded", "totp"),
        ("session.revoked", ""),
        ("sign_in.failed", "unknown_user"),
        ("sign_in.failed", "unknown_user"),
        ("sign_in.failed", "rate_limited"),
        ("ban.created", ""),
        ("sign_in.failed", "rate_limited"),
        ("sign_in.failed", "banned"),
    ]
    .iter()
    .map(|(k, w)| (k.to_string(), w.to_string()))
    .collect();
    assert_eq!(seen, expected, "{events:#?}");

    // Whom and where each is about.
    for e in &events[..13] {
        assert_eq!(e["user_id"], user_id.as_str(), "{e}");
        assert_eq!(e["actor_id"], Value::Null, "{e}");
    }
    for e in &events[13..] {
        assert_eq!(e["user_id"], Value::Null, "{e}");
        assert_eq!(e["ip"], attacker, "{e}");
    }
    assert_eq!(events[13]["detail"]["email"], "nobody@example.com");
    assert_eq!(
        events[2]["detail"].get("email"),
        None,
        "a matched user is named by id"
    );
    let ban = &events[16]["detail"];
    assert_eq!(ban["kind"], "ip");
    assert_eq!(ban["violation_type"], "logins");
    assert_eq!(ban["score"], 2);
    assert_eq!(ban["duration_ms"], 600_000);
    assert_eq!(ban["automatic"], true);
    assert_eq!(events[12]["detail"]["session_id"], sid.as_str());
    assert_eq!(events[0]["ip"], "127.0.0.1");
    assert!(events[0]["at"].as_str().unwrap().ends_with('Z'));
    assert!(events[0]["at_ms"].as_i64().unwrap() <= events[18]["at_ms"].as_i64().unwrap());

    // Nothing stored holds a password, a token, a secret or a code.
    let db = app.db().await;
    let rows: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT kind, COALESCE(user_id, ''), COALESCE(actor_id, ''), COALESCE(ip, ''), \
         COALESCE(user_agent, ''), detail FROM audit_events",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(rows.len() >= 19);
    for row in &rows {
        let all = format!("{row:?}");
        for s in &secrets {
            assert!(!all.contains(s.as_str()), "{s} stored in {all}");
        }
        for c in backup.iter().chain([&code, &confirm_code]) {
            assert!(!row.5.contains(&format!("\"{c}\"")), "{c} stored in {all}");
        }
    }
}

#[tokio::test]
async fn only_admins_read_the_log() {
    let app = spawn_app().await;
    let ops = app.signed_in_user("ops@example.com").await;
    let user = app.signed_in_user("ada@example.com").await;
    for path in ["audit", "audit/export"] {
        assert_eq!(get(&app, path, None).await.status(), 401, "{path}");
        let (status, body) = status_and_json(get(&app, path, Some(&user.token)).await).await;
        assert_eq!(
            (status, body),
            (403, json!({ "message": "Forbidden" })),
            "{path}"
        );
        assert_eq!(
            get(&app, path, Some(&ops.token)).await.status(),
            200,
            "{path}"
        );
    }
}

#[tokio::test]
async fn filters_narrow_the_reading_and_bad_ones_are_refused() {
    let app = spawn_app().await;
    let ops = app.signed_in_user("ops@example.com").await;
    app.signed_in_user("ada@example.com").await;
    app.clock.advance_ms(60_000);
    let later = app.clock.now_ms();
    assert_eq!(
        app.login("ada@example.com", "wrong password")
            .await
            .status(),
        404
    );
    app.signed_in_user_again("ada@example.com").await;
    let ada_id = app
        .ctx
        .accounts
        .find_by_email(&bouncer::accounts::Email::normalized("ada@example.com"))
        .await
        .unwrap()
        .unwrap()
        .id;

    let (status, page) = audit(&app, &ops.token, "user=ada@example.com").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        kinds(&page),
        [
            "sign_in.succeeded",
            "sign_in.failed",
            "sign_in.succeeded",
            "registered"
        ]
    );
    assert_eq!(page["next"], Value::Null);
    let (_, by_id) = audit(&app, &ops.token, &format!("user={ada_id}")).await;
    assert_eq!(by_id, page);

    let (_, failed) = audit(&app, &ops.token, "kind=sign_in.failed,registered").await;
    assert_eq!(
        kinds(&failed),
        ["sign_in.failed", "registered", "registered"]
    );

    let (_, since) = audit(&app, &ops.token, &format!("user={ada_id}&since={later}")).await;
    assert_eq!(kinds(&since), ["sign_in.succeeded", "sign_in.failed"]);
    let rfc3339 = time::OffsetDateTime::from_unix_timestamp_nanos(later as i128 * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (_, until) = audit(
        &app,
        &ops.token,
        &format!("user={ada_id}&until={}", rfc3339.replace('+', "%2B")),
    )
    .await;
    assert_eq!(kinds(&until), ["sign_in.succeeded", "registered"]);

    for bad in [
        "kind=sign_in.nope",
        "limit=0",
        "limit=501",
        "limit=ten",
        "since=yesterday",
        "until=2026-13-01T00:00:00Z",
        "cursor=abc",
        "since=2000&until=1000",
        "users=ada@example.com",
    ] {
        let (status, body) = audit(&app, &ops.token, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["message"].is_string(), "{bad}: {body}");
    }
    let (status, body) = audit(&app, &ops.token, "user=nobody@example.com").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn the_cursor_pages_through_every_event_once_and_the_export_has_them_all() {
    let app = spawn_app().await;
    let ops = app.signed_in_user("ops@example.com").await;
    // More than one export page (500) of events.
    for i in 0..620 {
        app.ctx.audit.record(
            Event::new(Kind::SignInFailed)
                .user(format!("user-{}", i % 3))
                .detail("reason", "invalid_credentials"),
        );
    }
    let (_, all) = audit(&app, &ops.token, "limit=500").await;
    assert_eq!(all["events"].as_array().unwrap().len(), 500);
    let total = 620 + 2; // and ops's registration and sign-in

    let mut ids: Vec<i64> = Vec::new();
    let mut query = "limit=7&kind=sign_in.failed".to_string();
    loop {
        let (status, page) = audit(&app, &ops.token, &query).await;
        assert_eq!(status, 200, "{page}");
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= 7);
        ids.extend(events.iter().map(|e| e["id"].as_i64().unwrap()));
        match page["next"].as_str() {
            Some(next) => query = format!("limit=7&kind=sign_in.failed&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 620);
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, none twice"
    );

    let export = get(&app, "audit/export", Some(&ops.token)).await;
    assert_eq!(export.status(), 200);
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let body = export.text().await.unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), total);
    assert_eq!(lines[0], all["events"][0]);

    let filtered = get(&app, "audit/export?user=user-1", Some(&ops.token))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(filtered.lines().count(), 620 / 3 + 1);
    assert!(filtered
        .lines()
        .all(|l| l.contains("\"user_id\":\"user-1\"")));
    assert_eq!(
        get(&app, "audit/export?kind=bad", Some(&ops.token))
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn events_past_the_retention_are_purged_by_the_clock() {
    let app = spawn_app_with(&[("AUDIT_RETENTION_DAYS", "30")]).await;
    app.signed_in_user("ops@example.com").await;
    app.clock.advance_ms(29 * 86_400_000);
    app.ctx
        .audit
        .record(Event::new(Kind::PasswordChanged).user("recent"));
    app.ctx.audit.flush().await;
    app.clock.advance_ms(2 * 86_400_000);

    let purged = bouncer::usecases::audit::purge_expired(&app.ctx)
        .await
        .unwrap();
    assert_eq!(purged, 2, "ops's registration and sign-in, 31 days old");
    // ops's token has expired meanwhile: a new sign-in (a new event) reads the log.
    let ops = app.signed_in_user_again("ops@example.com").await;
    let (_, page) = audit(&app, &ops.token, "").await;
    assert_eq!(kinds(&page), ["sign_in.succeeded", "password.changed"]);

    let forever = spawn_app_with(&[("AUDIT_RETENTION_DAYS", "0")]).await;
    forever.signed_in_user("ops@example.com").await;
    forever.ctx.audit.flush().await;
    forever.clock.advance_ms(3650 * 86_400_000);
    assert_eq!(
        bouncer::usecases::audit::purge_expired(&forever.ctx)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn the_account_page_shows_the_users_recent_activity() {
    let app = spawn_app().await;
    app.register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    assert_eq!(
        app.login("ada@example.com", "wrong password")
            .await
            .status(),
        404
    );
    let (_, _, csrf) = {
        let response = app.browser.get(app.url("/ui/login")).send().await.unwrap();
        let html = response.text().await.unwrap();
        let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
        let csrf = html[at..html[at..].find('"').unwrap() + at].to_string();
        ((), (), csrf)
    };
    let signed_in = app
        .browser
        .post(app.url("/ui/login"))
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
        )
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "ada@example.com"),
            ("password", PASSWORD),
            ("rd", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    app.ctx.audit.flush().await;

    let html = app
        .browser
        .get(app.url("/ui/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = html.find("id=\"activity-section\"").expect("the section");
    let section = &html[at..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(section.contains("Recent activity"), "{section}");
    let rows: Vec<&str> = section.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 3, "{section}");
    assert!(rows[0].contains("Signed in (password)"), "{}", rows[0]);
    assert!(rows[0].contains("Firefox on Linux"), "{}", rows[0]);
    assert!(rows[0].contains("127.0.0.1"), "{}", rows[0]);
    assert!(
        rows[1].contains("Sign-in refused (password, invalid credentials)"),
        "{}",
        rows[1]
    );
    assert!(rows[2].contains("Account created"), "{}", rows[2]);
}

#[tokio::test]
async fn a_clean_shutdown_stores_every_event_first() {
    let dir = tempfile::tempdir().unwrap();
    let running = crate::binary::start(
        dir.path(),
        &[("ALLOW_REGISTRATION", "true"), ("LOGIN_MAX", "1000")],
    )
    .await;
    let client = reqwest::Client::new();
    let register = client
        .post(format!("{}/api/auth/register", running.base))
        .json(&json!({
            "name": "Ada Lovelace", "email": "ada@example.com",
            "password": PASSWORD, "confirm_password": PASSWORD
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), 200);
    let sign_ins = 40;
    for _ in 0..sign_ins {
        let login = client
            .post(format!("{}/api/auth/login", running.base))
            .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
    }
    // SIGTERM at once, with the events possibly still queued.
    running.stop();

    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}/data/bouncer.db", dir.path().display());
    let db = sqlx::AnyPool::connect(&url).await.unwrap();
    let (stored,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE kind = 'sign_in.succeeded'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(stored, sign_ins);
    let (registered,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE kind = 'registered'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(registered, 1);
}

/// schemathesis's finding (tests/peers/schemathesis/run.sh): a `user` filter naming no user is
/// a JSON 404 on both readings, before any line of the export is sent, and the OpenAPI
/// document names that answer.
#[tokio::test]
async fn an_unknown_user_filter_is_a_documented_404() {
    let app = spawn_app().await;
    let ops = admin(&app, "ops@example.com").await;
    for path in ["/api/bouncer/audit", "/api/bouncer/audit/export"] {
        let response = app
            .browser
            .get(app.url(&format!("{path}?user=nobody%40example.com")))
            .bearer_auth(&ops.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].is_string(), "{path}: {body}");
    }
    let doc: Value = app
        .browser
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in ["/api/bouncer/audit", "/api/bouncer/audit/export"] {
        let documented = &doc["paths"][path]["get"]["responses"]["404"];
        assert!(
            documented
                .to_string()
                .contains("#/components/schemas/Message"),
            "{path}: {documented}"
        );
    }
}
