use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn protected_routes_answer_401_json_for_bad_tokens() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;

    let missing = app.bare.get(app.url("/api/user")).send().await.unwrap();
    assert_eq!(
        status_and_message(missing).await,
        (401, "No auth token".into())
    );

    let mut tampered = s.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        status_and_message(app.get_user(&tampered).await).await,
        (401, "invalid signature".into())
    );
    assert_eq!(
        status_and_message(app.get_user("garbage").await).await,
        (401, "jwt malformed".into())
    );

    let claims = jwt_payload(&s.token);
    let forged = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(b"some-other-secret-of-at-least-32-chars"),
    )
    .unwrap();
    assert_eq!(
        status_and_message(app.get_user(&forged).await).await,
        (401, "invalid signature".into())
    );

    // The refresh token is not an access token.
    assert_eq!(app.get_user(&s.refresh).await.status(), 401);

    app.clock.advance_ms(15 * 60 * 1000);
    assert_eq!(
        status_and_message(app.get_user(&s.token).await).await,
        (401, "jwt expired".into())
    );
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let response = app
        .bare
        .get(app.url("/api/user"))
        .header("Authorization", format!("bearer {}", s.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Cookies never authenticate API calls.
    let cookie_only = app
        .bare
        .get(app.url("/api/user"))
        .header("Cookie", format!("refreshToken={}", s.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(cookie_only.status(), 401);
}

#[tokio::test]
async fn tokens_without_a_session_id_are_refused() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let mut claims = jwt_payload(&s.token);
    claims.as_object_mut().unwrap().remove("sid");
    let librechat_style = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(app.get_user(&librechat_style).await.status(), 401);
}

#[tokio::test]
async fn unknown_routes_are_404_json() {
    let app = spawn_app().await;
    let response = app
        .bare
        .get(app.url("/api/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"message": "Not found"})
    );
    let wrong_method = app
        .bare
        .get(app.url("/api/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
}
