//! The admin API under `/api/bouncer`: users (list, detail, create, role, disable, sign-out,
//! 2FA reset, password-reset mail, delete, sessions), bans, settings; who may call it
//! (`REQUIRE_2FA_FOR_ADMINS`), and that no change leaves the system without an enabled ADMIN.

use std::collections::HashSet;

use bouncer::accounts::validation::RegistrationInput;
use bouncer::accounts::{RegisterOptions, Registration};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::mail_peers::*;

/// An admin API call: `(status, body)`.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .bare
        .request(method, app.url(&format!("/api/bouncer{path}")));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    status_and_json(req.send().await.unwrap()).await
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    call(app, Method::GET, path, Some(token), None).await
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(app, Method::POST, path, Some(token), Some(body)).await
}

async fn delete(app: &TestApp, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    call(app, Method::DELETE, path, Some(token), body).await
}

/// The first user is ADMIN; the second a USER.
async fn admin_and_user(app: &TestApp) -> (Session, Session) {
    let admin = app.signed_in_user("root@example.com").await;
    let user = app.signed_in_user("ada@example.com").await;
    (admin, user)
}

#[tokio::test]
async fn every_route_refuses_callers_without_a_token_and_non_admins() {
    let app = spawn_app().await;
    let (_admin, user) = admin_and_user(&app).await;
    let id = &user.user_id;
    let routes: Vec<(Method, String)> = vec![
        (Method::GET, "/users".into()),
        (Method::POST, "/users".into()),
        (Method::GET, format!("/users/{id}")),
        (Method::PATCH, format!("/users/{id}")),
        (Method::DELETE, format!("/users/{id}")),
        (Method::POST, format!("/users/{id}/disable")),
        (Method::POST, format!("/users/{id}/enable")),
        (Method::POST, format!("/users/{id}/sign-out")),
        (Method::POST, format!("/users/{id}/reset-2fa")),
        (Method::POST, format!("/users/{id}/password-reset")),
        (Method::GET, format!("/users/{id}/sessions")),
        (Method::DELETE, format!("/users/{id}/sessions")),
        (Method::DELETE, format!("/users/{id}/sessions/abc")),
        (Method::GET, "/bans".into()),
        (Method::POST, "/bans".into()),
        (Method::DELETE, "/bans".into()),
        (Method::GET, "/settings".into()),
    ];
    for (method, path) in routes {
        let (status, _) = call(&app, method.clone(), &path, None, Some(json!({}))).await;
        assert_eq!(status, 401, "{method} {path} without a token");
        let (status, body) = call(
            &app,
            method.clone(),
            &path,
            Some(&user.token),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 403, "{method} {path} as a USER");
        assert_eq!(body, json!({ "message": "Forbidden" }));
    }
    // Nothing happened to the user on the way.
    assert_eq!(app.get_user(&user.token).await.status(), 200);
}

/// Inserts users directly (no password hashing): `n` users with names, roles, providers and
/// flags spread out, and some sharing a creation time so the id must break ties.
async fn insert_users(app: &TestApp, n: usize) -> Vec<Value> {
    let pool = app.db().await;
    let base = 1_700_000_000_000_i64;
    let mut rows = Vec::new();
    for i in 0..n {
        let id = format!("{:024x}", 0xabc000 + i);
        let email = format!("member{:02}@example.org", (i * 7) % n);
        let name = format!("name{:02}", (i * 11) % n);
        let username = format!("user{:02}", (i * 13) % n);
        let role = if i % 5 == 0 { "ADMIN" } else { "USER" };
        let provider = if i % 4 == 0 { "google" } else { "local" };
        let two_factor = i64::from(i % 3 == 0);
        let verified = i64::from(i % 6 != 0);
        let created = base + (i as i64 / 3) * 1000;
        let disabled: Option<i64> = (i % 7 == 0).then_some(created);
        sqlx::query(
            "INSERT INTO users (id, email, name, username, email_verified, provider, role, \
                                two_factor_enabled, created_at, updated_at, disabled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
        )
        .bind(&id)
        .bind(&email)
        .bind(&name)
        .bind(&username)
        .bind(verified)
        .bind(provider)
        .bind(role)
        .bind(two_factor)
        .bind(created)
        .bind(disabled)
        .execute(&pool)
        .await
        .unwrap();
        rows.push(json!({
            "id": id, "email": email, "name": name, "username": username, "role": role,
            "provider": provider, "twoFactorEnabled": two_factor == 1,
            "emailVerified": verified == 1, "createdAt": created, "disabled": disabled.is_some(),
        }));
    }
    app.ctx.accounts.sync_disabled().await.unwrap();
    rows
}

/// Every page of a listing, walked by cursor: the ids in order.
async fn walk(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let path = match &cursor {
            Some(c) => format!("/users?{query}&cursor={c}"),
            None => format!("/users?{query}"),
        };
        let (status, body) = get(app, &path, token).await;
        assert_eq!(status, 200, "{path}: {body}");
        for u in body["users"].as_array().unwrap() {
            ids.push(u["id"].as_str().unwrap().to_string());
        }
        match body["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return ids,
        }
    }
    panic!("the pages never ended");
}

#[tokio::test]
async fn the_user_list_searches_filters_sorts_and_pages_without_gaps() {
    // Some inserted admins have 2FA; the caller does not need it here.
    let app = spawn_app_with(&[("REQUIRE_2FA_FOR_ADMINS", "false")]).await;
    let admin = app.signed_in_user("root@example.com").await;
    let rows = insert_users(&app, 40).await;
    let mut all: Vec<Value> = rows.clone();
    // The admin is a user of the list too.
    let (_, me) = get(&app, &format!("/users/{}", admin.user_id), &admin.token).await;
    all.push(json!({
        "id": admin.user_id, "email": "root@example.com", "name": me["user"]["name"],
        "username": me["user"]["username"], "createdAt": me["user"]["createdAt"],
    }));

    for (sort, key) in [
        ("created_at", "createdAt"),
        ("email", "email"),
        ("name", "name"),
        ("username", "username"),
    ] {
        for order in ["asc", "desc"] {
            let ids = walk(
                &app,
                &admin.token,
                &format!("sort={sort}&order={order}&limit=7"),
            )
            .await;
            let unique: HashSet<&String> = ids.iter().collect();
            assert_eq!(unique.len(), ids.len(), "no duplicates ({sort} {order})");
            let mut expected = all.clone();
            expected.sort_by(|a, b| {
                let ka = (a[key].to_string(), a["id"].as_str().unwrap().to_string());
                let kb = (b[key].to_string(), b["id"].as_str().unwrap().to_string());
                match key {
                    "createdAt" => (a[key].as_i64(), a["id"].as_str())
                        .cmp(&(b[key].as_i64(), b["id"].as_str())),
                    _ => ka.cmp(&kb),
                }
            });
            if order == "desc" {
                expected.reverse();
            }
            let expected: Vec<String> = expected
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(ids, expected, "every user once, in order ({sort} {order})");
        }
    }

    // The default: oldest first, 50 a page.
    let (status, body) = get(&app, "/users", &admin.token).await;
    assert_eq!(status, 200);
    assert_eq!(body["users"].as_array().unwrap().len(), 41);
    assert!(body["next"].is_null());
    assert!(body["users"][0].get("passwordHash").is_none());

    // Search: a substring of email, name or username, in any case.
    let (_, body) = get(&app, "/users?search=MEMBER0", &admin.token).await;
    assert_eq!(body["users"].as_array().unwrap().len(), 10);
    let (_, body) = get(&app, "/users?search=NAME1", &admin.token).await;
    assert_eq!(body["users"].as_array().unwrap().len(), 10);
    let (_, body) = get(&app, "/users?search=user3", &admin.token).await;
    assert_eq!(body["users"].as_array().unwrap().len(), 10);
    // `%` and `_` are themselves, not wildcards.
    let (_, body) = get(&app, "/users?search=%25", &admin.token).await;
    assert_eq!(body["users"].as_array().unwrap().len(), 0);
    let (_, body) = get(&app, "/users?search=member_", &admin.token).await;
    assert_eq!(body["users"].as_array().unwrap().len(), 0);

    let count = |f: &dyn Fn(&Value) -> bool| rows.iter().filter(|r| f(r)).count();
    let listed = |query: &'static str| {
        let app = &app;
        let token = admin.token.clone();
        async move { walk(app, &token, &format!("{query}&limit=200")).await.len() }
    };
    assert_eq!(
        listed("role=ADMIN").await,
        count(&|r| r["role"] == "ADMIN") + 1
    );
    assert_eq!(
        listed("provider=google").await,
        count(&|r| r["provider"] == "google")
    );
    assert_eq!(
        listed("two_factor=true").await,
        count(&|r| r["twoFactorEnabled"] == true)
    );
    assert_eq!(
        listed("two_factor=false").await,
        count(&|r| r["twoFactorEnabled"] == false) + 1
    );
    assert_eq!(
        listed("unverified=true").await,
        count(&|r| r["emailVerified"] == false)
    );
    assert_eq!(
        listed("disabled=true").await,
        count(&|r| r["disabled"] == true)
    );
    assert_eq!(
        listed("role=USER&provider=local&two_factor=false").await,
        count(&|r| r["role"] == "USER"
            && r["provider"] == "local"
            && r["twoFactorEnabled"] == false)
    );

    // Banned: by the bans in force.
    let target = rows[3]["id"].as_str().unwrap();
    let (status, _) = post(
        &app,
        "/bans",
        &admin.token,
        json!({ "user": target, "duration": "1h" }),
    )
    .await;
    assert_eq!(status, 201);
    let (_, body) = get(&app, "/users?banned=true", &admin.token).await;
    let banned: Vec<&str> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(banned, vec![target]);
    assert!(body["users"][0]["bannedUntil"].is_i64());
    assert_eq!(listed("banned=false").await, 40);
}

#[tokio::test]
async fn bad_list_parameters_are_400s_that_say_which() {
    let app = spawn_app_with(&[("REQUIRE_2FA_FOR_ADMINS", "false")]).await;
    let admin = app.signed_in_user("root@example.com").await;
    insert_users(&app, 5).await;
    let (_, page) = get(&app, "/users?sort=email&limit=2", &admin.token).await;
    let email_cursor = page["next"].as_str().unwrap().to_string();
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("sort=password", "sort"),
        ("order=up", "order"),
        ("two_factor=maybe", "two_factor"),
        ("banned=yes", "banned"),
        ("cursor=not-a-cursor", "cursor"),
        ("colour=red", "colour"),
    ] {
        let (status, body) = get(&app, &format!("/users?{query}"), &admin.token).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["message"].as_str().unwrap().starts_with(field),
            "{query}: {body}"
        );
    }
    // A cursor is for the sort it was made for.
    let (status, body) = get(
        &app,
        &format!("/users?sort=name&cursor={email_cursor}"),
        &admin.token,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // Unknown users are 404s, whatever the id looks like.
    for id in ["000000000000000000000000", "x", &"f".repeat(300)] {
        let (status, body) = get(&app, &format!("/users/{id}"), &admin.token).await;
        assert_eq!(status, 404, "{id}: {body}");
    }
    // A NUL never reaches a lookup (PostgreSQL would refuse it with an error).
    let (status, _) = get(&app, "/users/%00", &admin.token).await;
    assert_eq!(status, 400);
    let (status, _) = get(&app, "/users?search=a%00b", &admin.token).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_admin_creates_users_and_invites_without_a_password() {
    let app = spawn_app().await;
    let admin = app.signed_in_user("root@example.com").await;
    let (status, body) = post(
        &app,
        "/users",
        &admin.token,
        json!({ "email": "Grace@Example.com", "name": "Grace Hopper", "username": "grace",
                "password": PASSWORD, "role": "ADMIN" }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["email"], "grace@example.com");
    assert_eq!(body["user"]["role"], "ADMIN");
    let grace = app.signed_in_user_again("grace@example.com").await;
    assert_eq!(get(&app, "/settings", &grace.token).await.0, 200);

    // The same email, the same username, bad input.
    let (status, _) = post(
        &app,
        "/users",
        &admin.token,
        json!({ "email": "grace@example.com", "name": "G", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = post(
        &app,
        "/users",
        &admin.token,
        json!({ "email": "other@example.com", "name": "G", "username": "grace", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 409);
    for body in [
        json!({ "name": "No Email", "password": PASSWORD }),
        json!({ "email": "not-an-email", "name": "X", "password": PASSWORD }),
        json!({ "email": "x@example.com", "name": "X", "password": "short" }),
        json!({ "email": "x@example.com", "name": "X", "password": PASSWORD, "role": "ROOT" }),
        json!({ "email": "x@example.com", "name": "X", "password": 12345678 }),
    ] {
        let (status, answer) = post(&app, "/users", &admin.token, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["message"].is_string());
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = 'x@example.com'",
            &[]
        )
        .await,
        0
    );

    // Without a password: an invitation (its link, as no mail transport is configured).
    let (status, body) = post(
        &app,
        "/users",
        &admin.token,
        json!({ "email": "linus@example.com" }),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["invited"], true);
    assert!(body["inviteLink"].as_str().unwrap().contains("token="));
}

#[tokio::test]
async fn role_changes_count_at_once_and_keep_one_enabled_admin() {
    let app = spawn_app().await;
    let (admin, user) = admin_and_user(&app).await;
    let path = format!("/users/{}", user.user_id);
    for body in [json!({}), json!({ "role": "OWNER" }), json!({ "role": 1 })] {
        let (status, _) = call(&app, Method::PATCH, &path, Some(&admin.token), Some(body)).await;
        assert_eq!(status, 400);
    }
    let (status, body) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&admin.token),
        Some(json!({ "role": "ADMIN" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["role"], "ADMIN");
    // The new admin's existing token reaches the admin API now.
    assert_eq!(get(&app, "/users", &user.token).await.0, 200);

    // The first admin steps down: allowed, another is left.
    let own = format!("/users/{}", admin.user_id);
    let (status, _) = call(
        &app,
        Method::PATCH,
        &own,
        Some(&admin.token),
        Some(json!({ "role": "USER" })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(get(&app, "/users", &admin.token).await.0, 403);

    // The last admin cannot demote, disable or delete themselves.
    let me = format!("/users/{}", user.user_id);
    let (status, body) = call(
        &app,
        Method::PATCH,
        &me,
        Some(&user.token),
        Some(json!({ "role": "USER" })),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("ADMIN"));
    assert_eq!(
        post(&app, &format!("{me}/disable"), &user.token, json!({}))
            .await
            .0,
        409
    );
    assert_eq!(delete(&app, &me, &user.token, None).await.0, 409);
    assert_eq!(
        get(&app, "/users", &user.token).await.0,
        200,
        "still an admin"
    );

    let (status, _) = call(
        &app,
        Method::PATCH,
        "/users/000000000000000000000000",
        Some(&user.token),
        Some(json!({ "role": "USER" })),
    )
    .await;
    assert_eq!(status, 404);
}

const DISABLED: &str = "Your account has been disabled.";

#[tokio::test]
async fn a_disabled_user_is_refused_everywhere_at_once_until_enabled() {
    let app = spawn_app().await;
    let (admin, user) = admin_and_user(&app).await;
    let path = format!("/users/{}", user.user_id);
    let (status, body) = post(&app, &format!("{path}/disable"), &admin.token, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["user"]["disabledAt"].is_i64());

    // The open access token: refused at once.
    let (status, message) = status_and_message(app.get_user(&user.token).await).await;
    assert_eq!((status, message.as_str()), (403, DISABLED));
    // The right password: told; a wrong one: the usual answer.
    let (status, message) = status_and_message(app.login("ada@example.com", PASSWORD).await).await;
    assert_eq!((status, message.as_str()), (403, DISABLED));
    let (status, message) =
        status_and_message(app.login("ada@example.com", "wrong password!").await).await;
    assert_eq!(status, 404);
    assert_ne!(message, DISABLED);
    // The refresh token renews nothing.
    let refresh = app.refresh_with_cookie(&user.refresh, "").await;
    assert_ne!(refresh.status(), 200);
    assert!(set_cookie_line(refresh.headers(), "refreshToken")
        .is_none_or(|line| line.contains("refreshToken=;")));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM sessions WHERE user_id = $1",
            &[&user.user_id]
        )
        .await,
        0
    );
    // Listed as disabled.
    let (_, list) = get(&app, "/users?disabled=true", &admin.token).await;
    assert_eq!(list["users"][0]["id"], user.user_id.as_str());

    let (status, body) = post(&app, &format!("{path}/enable"), &admin.token, json!({})).await;
    assert_eq!(status, 200);
    assert!(body["user"]["disabledAt"].is_null());
    let again = app.signed_in_user_again("ada@example.com").await;
    assert_eq!(app.get_user(&again.token).await.status(), 200);

    // Audit: who did it.
    let recorded = eventually(|| async {
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE kind IN ('user.disabled', 'user.enabled') \
               AND user_id = $1 AND actor_id = $2",
            &[&user.user_id, &admin.user_id],
        )
        .await
            == 2
    })
    .await;
    assert!(recorded, "the audit log names the admin");
}

#[tokio::test]
async fn sign_out_everywhere_and_session_revocation() {
    let app = spawn_app().await;
    let (admin, first) = admin_and_user(&app).await;
    let second = app.signed_in_user_again("ada@example.com").await;
    let base = format!("/users/{}", first.user_id);

    let (status, body) = get(&app, &format!("{base}/sessions"), &admin.token).await;
    assert_eq!(status, 200);
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
    assert!(sessions[0]["createdAt"].is_i64());

    // Revoke the first login's session only.
    let sid = jwt_payload(&first.token)["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = delete(&app, &format!("{base}/sessions/{sid}"), &admin.token, None).await;
    assert_eq!(status, 200);
    assert_eq!(app.get_user(&first.token).await.status(), 401);
    assert_eq!(app.get_user(&second.token).await.status(), 200);
    // Gone, someone else's, unknown: 404.
    let (status, _) = delete(&app, &format!("{base}/sessions/{sid}"), &admin.token, None).await;
    assert_eq!(status, 404);
    let admin_sid = jwt_payload(&admin.token)["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = delete(
        &app,
        &format!("{base}/sessions/{admin_sid}"),
        &admin.token,
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(get(&app, "/settings", &admin.token).await.0, 200);

    // Everywhere.
    let third = app.signed_in_user_again("ada@example.com").await;
    let (status, body) = post(&app, &format!("{base}/sign-out"), &admin.token, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["sessionsRevoked"], 2);
    assert_eq!(app.get_user(&second.token).await.status(), 401);
    assert_eq!(app.get_user(&third.token).await.status(), 401);
    let fourth = app.signed_in_user_again("ada@example.com").await;
    let (_, body) = delete(&app, &format!("{base}/sessions"), &admin.token, None).await;
    assert_eq!(body["sessionsRevoked"], 1);
    assert_eq!(app.get_user(&fourth.token).await.status(), 401);
    // The user can sign in again.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn resetting_2fa_turns_it_off_and_ends_sessions() {
    let app = spawn_app().await;
    let (admin, user) = admin_and_user(&app).await;
    let pool = app.db().await;
    sqlx::query(
        "UPDATE users SET two_factor_enabled = 1, totp_secret = 'sealed', backup_codes = '[]' \
         WHERE id = $1",
    )
    .bind(&user.user_id)
    .execute(&pool)
    .await
    .unwrap();
    let (status, body) = post(
        &app,
        &format!("/users/{}/reset-2fa", user.user_id),
        &admin.token,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sessionsRevoked"], 1);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE id = $1 AND two_factor_enabled = 0 \
               AND totp_secret IS NULL AND backup_codes IS NULL",
            &[&user.user_id]
        )
        .await,
        1
    );
    assert_eq!(app.get_user(&user.token).await.status(), 401);
    // Password alone signs in now: no second step.
    let (status, body) = status_and_json(app.login("ada@example.com", PASSWORD).await).await;
    assert_eq!(status, 200);
    assert!(body["token"].is_string());
}

#[tokio::test]
async fn deleting_a_user_ends_everything() {
    let app = spawn_app().await;
    let (admin, user) = admin_and_user(&app).await;
    let path = format!("/users/{}", user.user_id);
    let (status, body) = delete(&app, &path, &admin.token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sessionsRevoked"], 1);
    assert_eq!(app.get_user(&user.token).await.status(), 401);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 404);
    assert_eq!(delete(&app, &path, &admin.token, None).await.0, 404);
    assert_eq!(get(&app, &path, &admin.token).await.0, 404);
}

/// A verified user made directly (mail is configured: registration would ask to verify).
async fn verified(app: &TestApp, email: &str) -> Session {
    let input = RegistrationInput {
        name: Some("Grace Hopper".into()),
        username: None,
        email: Some(email.into()),
        password: Some(PASSWORD.into()),
        confirm_password: Some(PASSWORD.into()),
    };
    let options = RegisterOptions {
        email_verified: Some(true),
        role: None,
        invite_token_id: None,
    };
    assert!(matches!(
        app.ctx.accounts.register(&input, &options).await.unwrap(),
        Registration::Created(_)
    ));
    app.signed_in_user_again(email).await
}

#[tokio::test]
async fn an_admin_mails_a_password_reset_link() {
    let mut smtp = SmtpPeer::start().await;
    let vars = smtp.vars();
    let mut overrides: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.push(("ALLOW_PASSWORD_RESET", "true"));
    let app = spawn_app_with(&overrides).await;
    let admin = verified(&app, "root@example.com").await;
    let user = verified(&app, "grace@example.com").await;
    let (status, body) = post(
        &app,
        &format!("/users/{}/password-reset", user.user_id),
        &admin.token,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let message = smtp.next_message().await;
    assert_eq!(message["rcpt_tos"], json!(["grace@example.com"]));
    let link = link_in(
        message["text"].as_str().unwrap(),
        "http://chat.test/reset-password?",
    );
    assert!(link.contains("token="), "{link}");
    assert!(link.contains(&user.user_id), "{link}");
}

#[tokio::test]
async fn a_password_reset_mail_needs_a_transport_and_the_feature() {
    let app = spawn_app_with(&[("ALLOW_PASSWORD_RESET", "true")]).await;
    let (admin, user) = admin_and_user(&app).await;
    let path = format!("/users/{}/password-reset", user.user_id);
    let (status, body) = post(&app, &path, &admin.token, json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("mail"));
    let app = spawn_app().await;
    let (admin, user) = admin_and_user(&app).await;
    let path = format!("/users/{}/password-reset", user.user_id);
    assert_eq!(post(&app, &path, &admin.token, json!({})).await.0, 403);
}

#[tokio::test]
async fn bans_of_users_addresses_and_networks_apply_at_once_and_lift() {
    let app = spawn_app().await;
    let (admin, user) = admin_and_user(&app).await;

    // A user, by email, with a reason.
    let (status, body) = post(
        &app,
        "/bans",
        &admin.token,
        json!({ "user": "ADA@example.com", "duration": "2h", "reason": "spam" }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["ban"]["kind"], "user");
    assert_eq!(body["ban"]["subject"], user.user_id.as_str());
    // Their sessions ended with the ban; a new sign-in is refused as banned.
    assert_eq!(app.get_user(&user.token).await.status(), 401);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 403);

    // An address and a network, from the clients they name.
    let (status, _) = post(
        &app,
        "/bans",
        &admin.token,
        json!({ "ip": "203.0.113.7", "duration": 3_600_000 }),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = post(
        &app,
        "/bans",
        &admin.token,
        json!({ "ip": "198.51.100.0/24", "duration": "1d", "reason": "scraper farm" }),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        app.login_from("203.0.113.7", "root@example.com", PASSWORD)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.login_from("198.51.100.200", "root@example.com", PASSWORD)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.login_from("198.51.101.1", "root@example.com", PASSWORD)
            .await
            .status(),
        200
    );

    let (status, body) = get(&app, "/bans", &admin.token).await;
    assert_eq!(status, 200);
    let bans = body["bans"].as_array().unwrap();
    assert_eq!(bans.len(), 3);
    let by_subject = |s: &str| bans.iter().find(|b| b["subject"] == s).unwrap().clone();
    let user_ban = by_subject(&user.user_id);
    assert_eq!(user_ban["email"], "ada@example.com");
    assert_eq!(user_ban["reason"], "spam");
    assert_eq!(user_ban["violationType"], "operator");
    assert_eq!(user_ban["createdBy"], admin.user_id.as_str());
    assert!(user_ban["expiresAt"].as_i64().unwrap() > user_ban["createdAt"].as_i64().unwrap());
    assert_eq!(by_subject("198.51.100.0/24")["reason"], "scraper farm");

    // Lifting restores.
    let (status, body) = delete(
        &app,
        "/bans",
        &admin.token,
        Some(json!({ "user": user.user_id })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
    let (status, body) = delete(
        &app,
        "/bans",
        &admin.token,
        Some(json!({ "ip": "198.51.100.9" })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["lifted"], json!(["198.51.100.0/24"]));
    assert_eq!(
        app.login_from("198.51.100.200", "root@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    let (status, _) = delete(
        &app,
        "/bans",
        &admin.token,
        Some(json!({ "ip": "198.51.100.9" })),
    )
    .await;
    assert_eq!(status, 404, "nothing left to lift");
}

#[tokio::test]
async fn bad_ban_requests_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (admin, user) = admin_and_user(&app).await;
    for (body, expected) in [
        (json!({ "duration": "1h" }), 400),
        (
            json!({ "user": user.user_id, "ip": "203.0.113.7", "duration": "1h" }),
            400,
        ),
        (json!({ "user": user.user_id }), 400),
        (json!({ "user": user.user_id, "duration": "2 hours" }), 400),
        (json!({ "user": user.user_id, "duration": 0 }), 400),
        (json!({ "user": user.user_id, "duration": -5 }), 400),
        (json!({ "user": user.user_id, "duration": 1.5 }), 400),
        (
            json!({ "user": user.user_id, "duration": "99999999999999d" }),
            400,
        ),
        (
            json!({ "user": user.user_id, "duration": "1h", "reason": "x".repeat(501) }),
            400,
        ),
        (json!({ "ip": "not an address", "duration": "1h" }), 400),
        (json!({ "ip": "0.0.0.0/0", "duration": "1h" }), 400),
        (json!({ "ip": "::/0", "duration": "1h" }), 400),
        (
            json!({ "user": "nobody@example.com", "duration": "1h" }),
            404,
        ),
        (
            json!({ "user": "000000000000000000000000", "duration": "1h" }),
            404,
        ),
        // Not oneself, nor one's own address.
        (json!({ "user": admin.user_id, "duration": "1h" }), 409),
        (json!({ "ip": "127.0.0.0/8", "duration": "1h" }), 409),
    ] {
        let (status, answer) = post(&app, "/bans", &admin.token, body.clone()).await;
        assert_eq!(status, expected, "{body}: {answer}");
        assert!(answer["message"].is_string(), "{answer}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM bans", &[]).await, 0);
    assert_eq!(app.get_user(&user.token).await.status(), 200);
    let (status, _) = delete(
        &app,
        "/bans",
        &admin.token,
        Some(json!({ "user": user.user_id })),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn settings_at_a_glance_name_features_and_thresholds_but_no_secret() {
    let app = spawn_app_with(&[("LOGIN_MAX", "7"), ("BAN_DURATION", "60000")]).await;
    let admin = app.signed_in_user("root@example.com").await;
    let response = app
        .bare
        .get(app.url("/api/bouncer/settings"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for secret in [JWT_SECRET, JWT_REFRESH_SECRET, CREDS_KEY] {
        assert!(!text.contains(secret));
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["features"]["registration"], true);
    assert_eq!(body["features"]["emailLogin"], true);
    assert_eq!(
        body["features"]["require2faForAdmins"],
        "whenAnyAdminHas2fa"
    );
    assert_eq!(body["identityProviders"], json!([]));
    assert_eq!(body["moderation"]["banDurationMs"], 60000);
    let login = body["moderation"]["limiters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "login_limiter")
        .cloned()
        .unwrap();
    assert_eq!(login["max"], 7);
}

#[tokio::test]
async fn require_2fa_for_admins_true_refuses_an_admin_without_2fa() {
    let app = spawn_app_with(&[("REQUIRE_2FA_FOR_ADMINS", "true")]).await;
    let admin = app.signed_in_user("root@example.com").await;
    let (status, body) = get(&app, "/users", &admin.token).await;
    assert_eq!(status, 403);
    assert!(
        body["message"].as_str().unwrap().contains("two-factor"),
        "{body}"
    );
    // With 2FA on, let in.
    set_two_factor(&app, &admin.user_id).await;
    assert_eq!(get(&app, "/users", &admin.token).await.0, 200);
}

async fn set_two_factor(app: &TestApp, user_id: &str) {
    sqlx::query("UPDATE users SET two_factor_enabled = 1 WHERE id = $1")
        .bind(user_id)
        .execute(&app.db().await)
        .await
        .unwrap();
    app.ctx.accounts.cached_users().forget(user_id);
}

#[tokio::test]
async fn require_2fa_for_admins_unset_is_on_once_any_admin_has_it() {
    let app = spawn_app().await;
    let (admin, other) = admin_and_user(&app).await;
    assert_eq!(get(&app, "/users", &admin.token).await.0, 200);
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/users/{}", other.user_id),
        Some(&admin.token),
        Some(json!({ "role": "ADMIN" })),
    )
    .await;
    assert_eq!(status, 200);
    set_two_factor(&app, &other.user_id).await;
    let (status, body) = get(&app, "/users", &admin.token).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(get(&app, "/users", &other.token).await.0, 200);

    let app = spawn_app_with(&[("REQUIRE_2FA_FOR_ADMINS", "false")]).await;
    let (admin, other) = admin_and_user(&app).await;
    call(
        &app,
        Method::PATCH,
        &format!("/users/{}", other.user_id),
        Some(&admin.token),
        Some(json!({ "role": "ADMIN" })),
    )
    .await;
    set_two_factor(&app, &other.user_id).await;
    assert_eq!(get(&app, "/users", &admin.token).await.0, 200);
}

#[tokio::test]
async fn a_user_detail_shows_sessions_identities_and_bans() {
    let app = spawn_app().await;
    let (admin, user) = admin_and_user(&app).await;
    post(
        &app,
        "/bans",
        &admin.token,
        json!({ "user": user.user_id, "duration": "1h", "reason": "cool off" }),
    )
    .await;
    let again = app.signed_in_user_again("root@example.com").await;
    let (status, body) = get(&app, &format!("/users/{}", user.user_id), &again.token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["sessions"], json!([]), "the ban ended them");
    assert_eq!(body["identities"], json!([]));
    assert_eq!(body["bans"][0]["reason"], "cool off");
    let (_, body) = get(&app, &format!("/users/{}", admin.user_id), &again.token).await;
    assert_eq!(body["sessions"].as_array().unwrap().len(), 2);
    assert!(body["user"]["bannedUntil"].is_null());
}

/// The value of the pages' hidden form token.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\"").expect("a form token");
    let tag = &html[at..at + html[at..].find('>').unwrap()];
    let value = &tag[tag.find("value=\"").unwrap() + 7..];
    value[..value.find('"').unwrap()].to_string()
}

#[tokio::test]
async fn a_disabled_user_is_refused_by_the_pages_and_forward_auth_too() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let (admin, user) = admin_and_user(&app).await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |password: &'static str| {
        let browser = browser.clone();
        let url = app.url("/ui/login");
        async move {
            let html = browser
                .get(&url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let csrf = csrf_of(&html);
            browser
                .post(&url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("email", "ada@example.com"),
                    ("password", password),
                    ("rd", ""),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let ok = sign_in(PASSWORD).await;
    assert_eq!(ok.status(), 303);
    let cookie = cookie_value(ok.headers(), "bouncer_session").unwrap();
    let verify = |bearer: Option<String>, cookie: Option<String>| {
        let mut req = app
            .bare
            .get(app.url("/api/auth/verify"))
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Uri", "/app");
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(cookie) = cookie {
            req = req.header("Cookie", format!("bouncer_session={cookie}"));
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(verify(Some(user.token.clone()), None).await, 200);
    assert_eq!(verify(None, Some(cookie.clone())).await, 200);

    post(
        &app,
        &format!("/users/{}/disable", user.user_id),
        &admin.token,
        json!({}),
    )
    .await;
    assert_eq!(verify(Some(user.token.clone()), None).await, 403);
    assert_eq!(
        verify(None, Some(cookie)).await,
        401,
        "the browser session ended"
    );
    let refused = sign_in(PASSWORD).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains(DISABLED));
    let wrong = sign_in("wrong password!").await;
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.text().await.unwrap().contains(DISABLED));
}
