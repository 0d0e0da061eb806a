use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn get_user_returns_the_librechat_shape() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let response = app.get_user(&s.token).await;
    assert_eq!(response.status(), 200);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["id"], s.user_id);
    assert_eq!(user["_id"], s.user_id);
    for field in [
        "name",
        "username",
        "email",
        "provider",
        "role",
        "createdAt",
        "updatedAt",
    ] {
        assert!(user[field].is_string(), "{field}: {user}");
    }
    for field in ["emailVerified", "twoFactorEnabled", "termsAccepted"] {
        assert!(user[field].is_boolean(), "{field}: {user}");
    }
    assert_eq!(user["plugins"], json!([]));
    assert!(user["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(user.get("password_hash").is_none());
}

#[tokio::test]
async fn terms_are_accepted_once_and_keep_the_first_time() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let terms = |token: String| {
        let app = &app;
        async move {
            app.bare
                .get(app.url("/api/user/terms"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        terms(s.token.clone()).await,
        json!({"termsAccepted": false, "termsAcceptedAt": null})
    );

    let accept = || async {
        app.bare
            .post(app.url("/api/user/terms/accept"))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap()
    };
    let first = accept().await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["message"], "Terms accepted successfully");
    let at = first["termsAcceptedAt"].as_str().unwrap().to_string();

    app.clock.advance_ms(60_000);
    let second: Value = accept().await.json().await.unwrap();
    assert_eq!(
        second["termsAcceptedAt"],
        at.as_str(),
        "first acceptance time is kept"
    );
    assert_eq!(
        terms(s.token.clone()).await,
        json!({"termsAccepted": true, "termsAcceptedAt": at})
    );
    assert_eq!(
        app.get_user(&s.token).await.json::<Value>().await.unwrap()["termsAccepted"],
        true
    );

    let anonymous = app
        .bare
        .post(app.url("/api/user/terms/accept"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn health_liveness_and_readiness_report_the_database() {
    let app = spawn_app().await;
    let ok = app.bare.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.unwrap()["database"], "up");

    let ready = app.bare.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        (&ready["status"], &ready["database"]),
        (&json!("ready"), &json!("up"))
    );
    let librechat = app.bare.get(app.url("/health")).send().await.unwrap();
    assert_eq!(librechat.status(), 200);
    assert_eq!(librechat.text().await.unwrap(), "OK");

    app.ctx.db.close().await;
    // The process still answers; it is no longer ready for traffic.
    let live = app.bare.get(app.url("/livez")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let not_ready = app.bare.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(not_ready.status(), 503);
    assert_eq!(not_ready.json::<Value>().await.unwrap()["database"], "down");
    let down = app.bare.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(down.status(), 503);
    assert_eq!(down.json::<Value>().await.unwrap()["database"], "down");
    // Routes that need the database answer 503, not 500.
    let login = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(login.status(), 503);
    assert_eq!(
        login.json::<Value>().await.unwrap(),
        json!({"message": "Service unavailable"})
    );
}
