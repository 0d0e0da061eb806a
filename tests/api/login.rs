use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn login_returns_token_user_and_librechat_cookies() {
    let app = spawn_app().await;
    app.register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    let now_ms = bouncer::clock::Clock::now_ms(app.clock.as_ref());
    let response = app.login(" ADA@example.com", PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");

    let refresh = set_cookie_line(response.headers(), "refreshToken").expect("refreshToken cookie");
    let provider =
        set_cookie_line(response.headers(), "token_provider").expect("token_provider cookie");
    assert!(
        provider.starts_with("token_provider=librechat;"),
        "{provider}"
    );
    for line in [&refresh, &provider] {
        assert!(has_flag(line, "HttpOnly"), "{line}");
        assert_eq!(
            cookie_attr(line, "SameSite").as_deref(),
            Some("Strict"),
            "{line}"
        );
        assert_eq!(cookie_attr(line, "Path").as_deref(), Some("/"), "{line}");
        assert!(
            !has_flag(line, "Secure"),
            "not Secure on localhost by default: {line}"
        );
        assert!(cookie_attr(line, "Domain").is_none(), "{line}");
    }
    // Expires = login time + REFRESH_TOKEN_EXPIRY (7 days).
    let expires = cookie_attr(&refresh, "Expires").unwrap();
    let expected = httpdate((now_ms + 7 * 24 * 3600 * 1000) / 1000);
    assert_eq!(expires, expected);
    assert_eq!(cookie_attr(&provider, "Expires").unwrap(), expected);

    let body: Value = response.json().await.unwrap();
    let user = &body["user"];
    assert_eq!(user["id"], user["_id"]);
    assert_eq!(user["id"].as_str().unwrap().len(), 24);
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["provider"], "local");
    assert_eq!(user["role"], "ADMIN");
    assert_eq!(user["emailVerified"], true);
    for secret_field in [
        "password",
        "password_hash",
        "passwordHash",
        "totpSecret",
        "backupCodes",
    ] {
        assert!(
            user.get(secret_field).is_none(),
            "{secret_field} must not leak"
        );
    }

    let claims = jwt_payload(body["token"].as_str().unwrap());
    assert_eq!(claims["id"], user["id"]);
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["provider"], "local");
    assert!(claims["username"].is_string());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(claims["sid"].as_str().unwrap().len(), 24);
}

fn httpdate(unix_seconds: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_seconds).unwrap();
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&f).unwrap()
}

#[tokio::test]
async fn secure_cookies_when_configured() {
    let app = spawn_app_with(&[("SESSION_COOKIE_SECURE", "true")]).await;
    app.register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    let response = app.login("ada@example.com", PASSWORD).await;
    let line = set_cookie_line(response.headers(), "refreshToken").unwrap();
    assert!(has_flag(&line, "Secure"), "{line}");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_are_indistinguishable() {
    let app = spawn_app().await;
    app.register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    let wrong_password = app.login("ada@example.com", "not the password").await;
    let unknown_email = app.login("nobody@example.com", "not the password").await;
    assert_eq!(wrong_password.status(), 404);
    assert_eq!(unknown_email.status(), 404);
    assert!(set_cookies(wrong_password.headers()).is_empty());
    let a = wrong_password.text().await.unwrap();
    let b = unknown_email.text().await.unwrap();
    assert_eq!(a, b);
    assert_eq!(
        serde_json::from_str::<Value>(&a).unwrap()["message"],
        "Incorrect email or password."
    );
}

#[tokio::test]
async fn missing_and_invalid_credentials_are_404() {
    let app = spawn_app().await;
    let cases = [
        (json!({}), "Missing credentials"),
        (json!({"email": "a@b.co"}), "Missing credentials"),
        (
            json!({"email": "", "password": PASSWORD}),
            "Missing credentials",
        ),
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "email: Invalid email",
        ),
        (
            json!({"email": "a@b.co", "password": "short"}),
            "password: String must contain at least 8 character(s)",
        ),
    ];
    for (body, message) in cases {
        let response = app
            .bare
            .post(app.url("/api/auth/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{body}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({ "message": message }),
            "{body}"
        );
    }
    let wrong_type = app
        .bare
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": ["a@b.co"], "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 400);
}

#[tokio::test]
async fn email_login_disabled_is_403() {
    let app = spawn_app_with(&[("ALLOW_EMAIL_LOGIN", "false")]).await;
    app.register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    let response = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "message": "Email login is not allowed." })
    );
}

#[tokio::test]
async fn unverified_email_is_422() {
    let app = spawn_app().await;
    app.register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    sqlx::query("UPDATE users SET email_verified = 0")
        .execute(&app.db().await)
        .await
        .unwrap();
    let response = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "message": "Email not verified." })
    );
}

#[tokio::test]
async fn librechat_bcrypt_hash_logs_in_and_is_upgraded_to_argon2id() {
    let app = spawn_app().await;
    app.register(
        "Imported User",
        "imported@example.com",
        "placeholder-password",
    )
    .await;
    let db = app.db().await;
    let bcrypt_hash = bcrypt::hash("librechat password", 10)
        .unwrap()
        .replacen("$2b$", "$2a$", 1);
    sqlx::query("UPDATE users SET password_hash = $1 WHERE email = 'imported@example.com'")
        .bind(&bcrypt_hash)
        .execute(&db)
        .await
        .unwrap();

    assert_eq!(
        app.login("imported@example.com", "wrong password!")
            .await
            .status(),
        404
    );
    let (still_bcrypt,): (String,) = sqlx::query_as("SELECT password_hash FROM users")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        still_bcrypt, bcrypt_hash,
        "a failed login must not touch the hash"
    );

    assert_eq!(
        app.login("imported@example.com", "librechat password")
            .await
            .status(),
        200
    );
    let (upgraded,): (String,) = sqlx::query_as("SELECT password_hash FROM users")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{upgraded}"
    );
    assert_eq!(
        app.login("imported@example.com", "librechat password")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn each_login_is_its_own_session() {
    let app = spawn_app().await;
    let first = app.signed_in_user("ada@example.com").await;
    let second = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(second.status(), 200);
    let db = app.db().await;
    let n = app
        .count(
            "SELECT COUNT(*) FROM sessions WHERE user_id = $1",
            &[&first.user_id],
        )
        .await;
    assert_eq!(n, 2);
    // Only a hash of the refresh token is stored.
    let (hash,): (String,) = sqlx::query_as("SELECT refresh_token_hash FROM sessions LIMIT 1")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(hash.len(), 64);
    assert_ne!(hash, first.refresh);
}
