use serde_json::{json, Value};

use crate::helpers::*;

const GENERIC: &str = "Please check your email to verify your email address.";

#[tokio::test]
async fn registration_answers_generically_and_sets_no_cookie() {
    let app = spawn_app().await;
    let response = app
        .register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        set_cookies(response.headers()).is_empty(),
        "registration must not log in"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "message": GENERIC }));
}

#[tokio::test]
async fn duplicate_email_gets_the_same_answer_and_creates_nothing() {
    let app = spawn_app().await;
    let first = app
        .register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    let first_body = first.text().await.unwrap();
    let second = app
        .register("Someone Else", "  ADA@Example.com ", "another password")
        .await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.text().await.unwrap(), first_body);

    let n = app.count("SELECT COUNT(*) FROM users", &[]).await;
    assert_eq!(n, 1);
    // The original password still works; the second one never took.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
    assert_eq!(
        app.login("ada@example.com", "another password")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn registration_closed_is_403() {
    let app = spawn_app_with(&[("ALLOW_REGISTRATION", "false")]).await;
    let response = app
        .register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "message": "Registration is not allowed." }));
}

#[tokio::test]
async fn validation_failures_are_404_with_field_messages() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"name": "Al", "email": "a@b.co", "password": PASSWORD, "confirm_password": PASSWORD}),
            "name: String must contain at least 3 character(s)",
        ),
        (
            json!({"name": "Ada", "email": "nope", "password": PASSWORD, "confirm_password": PASSWORD}),
            "email: Invalid email",
        ),
        (
            json!({"name": "Ada", "email": "a@b.co", "password": PASSWORD, "confirm_password": "different one"}),
            ": The passwords did not match",
        ),
        (
            json!({"name": "Ada", "email": "a@b.co", "username": "x<script>", "password": PASSWORD, "confirm_password": PASSWORD}),
            "username: Potential injection attack detected",
        ),
        (
            json!({}),
            "name: Required email: Required password: Required confirm_password: Required",
        ),
    ];
    for (body, message) in cases {
        let response = app
            .bare
            .post(app.url("/api/auth/register"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{body}");
        let got: Value = response.json().await.unwrap();
        assert_eq!(got, json!({ "message": message }), "{body}");
    }
}

#[tokio::test]
async fn min_password_length_is_enforced_server_side() {
    let app = spawn_app_with(&[("MIN_PASSWORD_LENGTH", "12")]).await;
    let response = app
        .register("Ada Lovelace", "ada@example.com", "elevenchars")
        .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("at least 12"),
        "{body}"
    );
}

#[tokio::test]
async fn allowed_domains_from_librechat_yaml() {
    let yaml = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        yaml.path(),
        "registration:\n  allowedDomains: [example.com]\n",
    )
    .unwrap();
    let app = spawn_app_with(&[("CONFIG_PATH", yaml.path().to_str().unwrap())]).await;
    let refused = app.register("Mallory", "m@evil.example", PASSWORD).await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body,
        json!({"message": "The email address provided cannot be used. Please use a different email address."})
    );
    assert_eq!(
        app.register("Ada Lovelace", "ada@EXAMPLE.com", PASSWORD)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn first_user_is_admin_even_when_several_register_at_once() {
    let app = spawn_app().await;
    let attempts = (0..6).map(|i| {
        let app = &app;
        async move {
            app.register("Racer Name", &format!("racer{i}@example.com"), PASSWORD)
                .await
                .status()
        }
    });
    for status in futures::future::join_all(attempts).await {
        assert_eq!(status, 200);
    }
    let db = app.db().await;
    let admins = app
        .count("SELECT COUNT(*) FROM users WHERE role = 'ADMIN'", &[])
        .await;
    let users = app
        .count("SELECT COUNT(*) FROM users WHERE role = 'USER'", &[])
        .await;
    assert_eq!((admins, users), (1, 5));

    // The earliest account is the admin, and the role shows in the login answer.
    let (admin_email,): (String,) = sqlx::query_as("SELECT email FROM users WHERE role = 'ADMIN'")
        .fetch_one(&db)
        .await
        .unwrap();
    let body: Value = app
        .login(&admin_email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["user"]["role"], "ADMIN");
}

#[tokio::test]
async fn bad_bodies_are_400_json_never_500() {
    let app = spawn_app().await;
    let url = app.url("/api/auth/register");
    let malformed = app
        .bare
        .post(&url)
        .header("Content-Type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid JSON body"),
        "{body}"
    );

    let wrong_type = app
        .bare
        .post(&url)
        .json(&json!({"name": 42, "email": "a@b.co", "password": PASSWORD, "confirm_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 400);
    assert!(wrong_type.json::<Value>().await.unwrap()["message"].is_string());

    let form = app
        .bare
        .post(app.url("/api/auth/login"))
        .header("Content-Type", "text/plain")
        .body(r#"{"email":"a@b.co","password":"correct horse battery"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 400, "a cross-site form cannot post a login");
    assert_eq!(
        form.json::<Value>().await.unwrap()["message"],
        "Content-Type must be application/json"
    );
    let not_an_object = app
        .bare
        .post(&url)
        .json(&json!(["a"]))
        .send()
        .await
        .unwrap();
    assert_eq!(not_an_object.status(), 400);

    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024 + 10));
    let too_big = app
        .bare
        .post(&url)
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    let body: Value = too_big.json().await.unwrap();
    assert_eq!(body["message"], "Request body is larger than 1 MiB");
}
