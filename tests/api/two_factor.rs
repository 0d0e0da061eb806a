//! Two-factor authentication, whole flows: codes are computed here from the secret in the
//! `otpauth://` URL the server hands out, at the time of the server's manual clock.

use aes::cipher::{KeyIvInit, StreamCipher};
use bouncer::clock::Clock;
use serde_json::{json, Value};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::*;

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

/// Enrols and confirms 2FA for a signed-in user; returns the secret and the backup codes.
/// The clock moves on a step afterwards, so the confirming code is in the past.
async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let (status, body) = app.enable_2fa(token).await;
    assert_eq!(status, 200, "{body}");
    let secret = secret_of(body["otpauthUrl"].as_str().unwrap());
    let codes: Vec<String> = serde_json::from_value(body["backupCodes"].clone()).unwrap();
    let code = code_at(&secret, app);
    assert_eq!(app.confirm_2fa(token, &code).await.0, 200);
    app.clock.advance_ms(30_000);
    (secret, codes)
}

/// Password login of a 2FA user: returns the temp token.
async fn first_step(app: &TestApp, email: &str) -> String {
    let response = app.login(email, PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert!(
        set_cookies(response.headers()).is_empty(),
        "no cookie before the second factor"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["twoFAPending"], true);
    assert!(body.get("token").is_none());
    body["tempToken"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn enrol_confirm_then_log_in_with_a_code_that_works_once() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;

    let (status, body) = app.enable_2fa(&s.token).await;
    assert_eq!(status, 200);
    let url = body["otpauthUrl"].as_str().unwrap();
    assert!(
        url.starts_with("otpauth://totp/LibreChat:ada%40example%2Ecom?secret="),
        "{url}"
    );
    assert!(url.ends_with("&issuer=LibreChat"), "{url}");
    let codes = body["backupCodes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.as_str().unwrap().len() == 8));
    let secret = secret_of(url);

    // Staged only: login is still one step.
    assert!(app
        .login("ada@example.com", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .is_string());

    let wrong = app.verify_2fa(&s.token, "000000").await;
    assert_eq!(
        wrong,
        (400, json!({ "message": "Invalid token or backup code." }))
    );
    let code = code_at(&secret, &app);
    assert_eq!(app.verify_2fa(&s.token, &code).await, (200, json!({})));
    let bad = app.confirm_2fa(&s.token, "123").await;
    assert_eq!(bad, (400, json!({ "message": "Invalid token." })));
    assert_eq!(app.confirm_2fa(&s.token, &code).await.0, 200);
    let me: Value = app.get_user(&s.token).await.json().await.unwrap();
    assert_eq!(me["twoFactorEnabled"], true);

    // The code that confirmed is used: within the same 30 s it cannot log in.
    let temp = first_step(&app, "ada@example.com").await;
    let replay = app.verify_temp(&temp, &code).await;
    assert_eq!(
        replay,
        (401, json!({ "message": "Invalid 2FA code or backup code" }))
    );

    app.clock.advance_ms(30_000);
    let fresh = code_at(&secret, &app);
    let response = app
        .post(
            "/api/auth/2fa/verify-temp",
            &json!({ "tempToken": temp, "token": fresh }),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        cookie_value(response.headers(), "refreshToken").is_some(),
        "a full login: cookies"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(
        app.get_user(body["token"].as_str().unwrap()).await.status(),
        200
    );

    let again = app.verify_temp(&temp, &fresh).await;
    assert_eq!(
        again.0, 401,
        "a code is accepted once (LibreChat allows replay)"
    );
}

#[tokio::test]
async fn a_backup_code_works_once() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let (_, codes) = enrol(&app, &s.token).await;
    let temp = first_step(&app, "ada@example.com").await;
    let first = app.verify_temp_backup(&temp, &codes[0]).await;
    assert_eq!(first.0, 200);
    let temp = first_step(&app, "ada@example.com").await;
    let second = app.verify_temp_backup(&temp, &codes[0]).await;
    assert_eq!(second.0, 401);
    let other = app.verify_temp_backup(&temp, &codes[1]).await;
    assert_eq!(other.0, 200);
}

#[tokio::test]
async fn temp_tokens_and_access_tokens_are_not_interchangeable_and_temp_tokens_expire() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let (secret, _) = enrol(&app, &s.token).await;
    let temp = first_step(&app, "ada@example.com").await;

    assert_eq!(
        app.get_user(&temp).await.status(),
        401,
        "a temp token is no access token"
    );
    let code = code_at(&secret, &app);
    let with_access = app.verify_temp(&s.token, &code).await;
    assert_eq!(
        with_access,
        (
            401,
            json!({ "message": "Invalid or expired temporary token" })
        )
    );
    let missing = app
        .post_json("/api/auth/2fa/verify-temp", &json!({ "token": code }))
        .await;
    assert_eq!(
        missing,
        (400, json!({ "message": "Missing temporary token" }))
    );

    app.clock.advance_ms(5 * 60 * 1000);
    let code = code_at(&secret, &app);
    let expired = app.verify_temp(&temp, &code).await;
    assert_eq!(
        expired,
        (
            401,
            json!({ "message": "Invalid or expired temporary token" })
        )
    );
}

#[tokio::test]
async fn disable_and_regenerate_need_a_valid_code() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let (secret, codes) = enrol(&app, &s.token).await;

    let none = app.regenerate_backup_codes(&s.token, &json!({})).await;
    assert_eq!(none.0, 400);
    let wrong = app
        .regenerate_backup_codes(&s.token, &json!({ "token": "000000" }))
        .await;
    assert_eq!(
        wrong,
        (401, json!({ "message": "Invalid token or backup code" }))
    );
    let (status, body) = app
        .regenerate_backup_codes(&s.token, &json!({ "backupCode": codes[0] }))
        .await;
    assert_eq!(status, 200);
    let new_codes: Vec<String> = serde_json::from_value(body["backupCodes"].clone()).unwrap();
    assert_eq!(new_codes.len(), 10);
    assert_eq!(body["backupCodesHash"].as_array().unwrap().len(), 10);
    assert_eq!(body["backupCodesHash"][0]["used"], false);
    let temp = first_step(&app, "ada@example.com").await;
    let old = app.verify_temp_backup(&temp, &codes[1]).await;
    assert_eq!(old.0, 401, "the old codes are gone");

    let none = app.disable_2fa(&s.token, &json!({})).await;
    assert_eq!(
        none,
        (
            400,
            json!({ "message": "Either token or backup code is required to disable 2FA" })
        )
    );
    let wrong = app
        .disable_2fa(&s.token, &json!({ "token": "000000" }))
        .await;
    assert_eq!(
        wrong,
        (401, json!({ "message": "Invalid token or backup code" }))
    );
    let code = code_at(&secret, &app);
    assert_eq!(
        app.disable_2fa(&s.token, &json!({ "token": code })).await.0,
        200
    );
    let login: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert!(login["token"].is_string(), "one-step login again: {login}");
    let again = app.disable_2fa(&s.token, &json!({ "token": code })).await;
    assert_eq!(
        again,
        (400, json!({ "message": "2FA is not setup for this user" }))
    );
}

#[tokio::test]
async fn a_librechat_v3_secret_is_read_with_creds_key() {
    let app = spawn_app().await;
    app.signed_in_user("ada@example.com").await;
    // What LibreChat's encryptV3 stores: AES-256-CTR under CREDS_KEY, 16-byte IV as counter.
    let secret = "JBSWY3DPEHPK3PXP";
    let key: [u8; 32] = hex::decode(CREDS_KEY).unwrap().try_into().unwrap();
    let iv = [0x42u8; 16];
    let mut data = secret.as_bytes().to_vec();
    ctr::Ctr128BE::<aes::Aes256>::new(&key.into(), &iv.into()).apply_keystream(&mut data);
    let stored = format!("v3:{}:{}", hex::encode(iv), hex::encode(data));
    let db = app.db().await;
    sqlx::query(
        "UPDATE users SET totp_secret = $1, two_factor_enabled = 1 WHERE email = 'ada@example.com'",
    )
    .bind(&stored)
    .execute(&db)
    .await
    .unwrap();
    let temp = first_step(&app, "ada@example.com").await;
    let code = code_at(secret, &app);
    let done = app.verify_temp(&temp, &code).await;
    assert_eq!(done.0, 200, "{}", done.1);
}

#[tokio::test]
async fn new_secrets_are_stored_encrypted() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    // Older clients use GET to start enrolment.
    let get = app
        .bare
        .get(app.url("/api/auth/2fa/enable"))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let body: Value = get.json().await.unwrap();
    assert!(body["otpauthUrl"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let (secret, codes) = enrol(&app, &s.token).await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE totp_secret LIKE 'gcm:%'",
            &[]
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE totp_secret LIKE $1",
            &[&format!("%{secret}%")]
        )
        .await,
        0
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE backup_codes LIKE $1",
            &[&format!("%{}%", codes[0])]
        )
        .await,
        0
    );
}

#[tokio::test]
async fn guessing_codes_is_limited_and_scored_against_the_account() {
    let app = spawn_app_with(&[("TWO_FACTOR_TEMP_MAX", "2"), ("BAN_INTERVAL", "2")]).await;
    let s = app.signed_in_user("ada@example.com").await;
    enrol(&app, &s.token).await;
    // Enrolment's verify/confirm count in the same per-account window; start a fresh one.
    app.clock.advance_ms(5 * 60 * 1000);
    let temp = first_step(&app, "ada@example.com").await;
    for _ in 0..2 {
        let wrong = app.verify_temp(&temp, "000000").await;
        assert_eq!(wrong.0, 401);
    }
    let limited = app.verify_temp(&temp, "000000").await;
    assert_eq!(limited.0, 429);
    assert!(limited.1["message"]
        .as_str()
        .unwrap()
        .starts_with("Too many verification attempts"));
    let banned = app.verify_temp(&temp, "000000").await;
    assert_eq!(banned.0, 429);
    // Two violations cross BAN_INTERVAL=2: the account is banned, from any IP.
    let other_ip: std::net::IpAddr = "198.51.100.7".parse().unwrap();
    assert!(
        app.ctx
            .moderation
            .check(other_ip, Some(&s.user_id))
            .is_err(),
        "the account is banned"
    );
}

#[tokio::test]
async fn deleting_an_account_with_2fa_needs_a_code() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let (secret, _) = enrol(&app, &s.token).await;
    let delete = |body: Value| {
        let app = &app;
        let token = s.token.clone();
        async move {
            let response = app
                .bare
                .delete(app.url("/api/user/delete"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let none = delete(json!({})).await;
    assert_eq!(
        none,
        (
            400,
            json!({ "message": "TOTP token or backup code is required to delete account with 2FA enabled" })
        )
    );
    assert_eq!(delete(json!({ "token": "000000" })).await.0, 401);
    let code = code_at(&secret, &app);
    assert_eq!(
        delete(json!({ "token": code })).await,
        (200, json!({ "message": "User deleted" }))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 0);
    assert_eq!(
        app.get_user(&s.token).await.status(),
        401,
        "its tokens die with it"
    );
}

#[tokio::test]
async fn require_2fa_confines_a_user_without_it_to_enrolment() {
    let app = spawn_app_with(&[("REQUIRE_2FA", "true")]).await;
    assert_eq!(
        app.register("Ada Lovelace", "ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    let response = app
        .login_with(&app.browser, "ada@example.com", PASSWORD)
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["twoFASetupRequired"], true);
    let token = body["token"].as_str().unwrap().to_string();

    let me = app.get_user(&token).await;
    assert_eq!(me.status(), 403);
    assert_eq!(
        me.json::<Value>().await.unwrap()["twoFASetupRequired"],
        true
    );
    let config: Value = app
        .bare
        .get(app.url("/api/config"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        config.get("helpAndFaqURL").is_none(),
        "an enrolment token counts as anonymous"
    );

    enrol(&app, &token).await;
    // A refreshed token carries full access now that 2FA is on.
    let refreshed = app.browser_refresh().await;
    assert_eq!(refreshed.status(), 200);
    let full = refreshed.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.get_user(&full).await.status(), 200);
    first_step(&app, "ada@example.com").await;
}

#[tokio::test]
async fn codes_behind_a_stolen_access_token_cannot_be_guessed_without_limit() {
    let app = spawn_app_with(&[("TWO_FACTOR_TEMP_MAX", "3"), ("BAN_VIOLATIONS", "false")]).await;
    let s = app.signed_in_user("ada@example.com").await;
    enrol(&app, &s.token).await; // verify-less enrolment: one confirm in this window
    let guess = || async {
        app.disable_2fa(&s.token, &json!({ "token": "000000" }))
            .await
    };
    assert_eq!(guess().await.0, 401);
    assert_eq!(guess().await.0, 401);
    let limited = guess().await;
    assert_eq!(limited.0, 429, "{:?}", limited.1);
}
