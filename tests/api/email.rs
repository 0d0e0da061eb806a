//! Email: verification, password reset and invitations, delivered to a real SMTP server (and
//! to a Mailgun stand-in), with the links followed as a user would.

use bouncer::accounts::validation::RegistrationInput;
use bouncer::accounts::{RegisterOptions, Registration};
use bouncer::store::users::User;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::mail_peers::*;

/// The peer's variables plus `extra`, as `spawn_app_with` takes them.
fn with<'a>(
    peer: &'a [(&'static str, String)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut vars: Vec<(&str, &str)> = peer.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.extend_from_slice(extra);
    vars
}

/// A verified user made directly through the accounts service (no message sent).
async fn verified_user(app: &TestApp, email: &str) -> User {
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
    match app.ctx.accounts.register(&input, &options).await.unwrap() {
        Registration::Created(user) => *user,
        Registration::EmailTaken => panic!("email taken"),
    }
}

#[tokio::test]
async fn registration_mails_a_verification_link_that_verifies_once() {
    let mut smtp = SmtpPeer::start().await;
    let app = spawn_app_with(&with(&smtp.vars(), &[])).await;

    let response = app
        .register("Ada Lovelace", "Ada@Example.com", PASSWORD)
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Please check your email to verify your email address."
    );

    let login = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(login.status(), 422, "unverified users may not log in");
    assert_eq!(
        login.json::<Value>().await.unwrap(),
        json!({ "message": "Email not verified." })
    );

    let message = smtp.next_message().await;
    assert_eq!(message["rcpt_tos"], json!(["ada@example.com"]));
    assert_eq!(message["subject"], "Verify your email");
    assert!(message["from"]
        .as_str()
        .unwrap()
        .contains("noreply@bouncer.test"));
    assert!(
        message["from"].as_str().unwrap().contains("LibreChat"),
        "EMAIL_FROM_NAME falls back to APP_TITLE"
    );
    assert!(message["to"].as_str().unwrap().contains("Ada Lovelace"));
    let text = message["text"].as_str().unwrap();
    let link = link_in(text, "http://chat.test/verify?");
    assert!(
        message["html"]
            .as_str()
            .unwrap()
            .contains("http://chat.test/verify?"),
        "HTML part too"
    );
    let token = query_param(&link, "token");
    assert_eq!(token.len(), 64, "256-bit token");
    assert_eq!(query_param(&link, "email"), "ada@example.com");

    // Wrong token, unknown email: the same 400.
    let invalid = json!({ "message": "Invalid or expired email verification token" });
    let wrong = app.verify_email("ada@example.com", &"0".repeat(64)).await;
    assert_eq!(wrong, (400, invalid.clone()));
    let unknown = app.verify_email("nobody@example.com", &token).await;
    assert_eq!(unknown, (400, invalid.clone()));

    // The client may pass the email still URL-encoded, as it found it in the link.
    let email_in_link = raw_query_param(&link, "email");
    assert_eq!(email_in_link, "ada%40example.com");
    let ok = app.verify_email(&email_in_link, &token).await;
    assert_eq!(
        ok,
        (
            200,
            json!({ "message": "Email verification was successful", "status": "success" })
        )
    );
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);

    let again = app.verify_email("ada@example.com", &token).await;
    assert_eq!(again, (400, invalid), "a token works once");
    app.ctx.mail.idle().await;
    assert!(smtp.received().is_none(), "exactly one message");
}

#[tokio::test]
async fn resend_replaces_the_token_and_tells_nothing_about_accounts() {
    let mut smtp = SmtpPeer::start().await;
    let app = spawn_app_with(&with(&smtp.vars(), &[])).await;
    assert_eq!(
        app.register("Ada Lovelace", "ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    let first = query_param(
        &link_in(
            smtp.next_message().await["text"].as_str().unwrap(),
            "http://chat.test/verify?",
        ),
        "token",
    );

    let generic = json!({ "message": "Please check your email to verify your email address." });
    assert_eq!(
        app.resend_verification("ada@example.com").await,
        (200, generic.clone())
    );
    assert_eq!(
        app.resend_verification("nobody@example.com").await,
        (200, generic)
    );
    let second_message = smtp.next_message().await;
    assert_eq!(second_message["rcpt_tos"], json!(["ada@example.com"]));
    let second = query_param(
        &link_in(
            second_message["text"].as_str().unwrap(),
            "http://chat.test/verify?",
        ),
        "token",
    );
    assert_ne!(first, second);
    app.ctx.mail.idle().await;
    assert!(
        smtp.received().is_none(),
        "nothing is sent for an unknown email"
    );

    let old = app.verify_email("ada@example.com", &first).await;
    assert_eq!(old.0, 400, "the newer token replaced the older one");
    let new = app.verify_email("ada@example.com", &second).await;
    assert_eq!(new.0, 200);

    let bad = app.resend_verification("not an email").await;
    assert_eq!(bad, (400, json!({ "message": "email: Invalid email" })));
}

#[tokio::test]
async fn verification_tokens_expire_after_email_token_expiry() {
    let mut smtp = SmtpPeer::start().await;
    let app = spawn_app_with(&with(&smtp.vars(), &[("EMAIL_TOKEN_EXPIRY", "1000 * 60")])).await;
    assert_eq!(
        app.register("Ada Lovelace", "ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    let message = smtp.next_message().await;
    let text = message["text"].as_str().unwrap();
    assert!(
        text.contains("1 minutes"),
        "the message states the lifetime: {text}"
    );
    let token = query_param(&link_in(text, "http://chat.test/verify?"), "token");
    app.clock.advance_ms(60_001);
    let late = app.verify_email("ada@example.com", &token).await;
    assert_eq!(late.0, 400);
}

#[tokio::test]
async fn unverified_registrations_are_deleted_after_a_week_unless_unverified_login_is_allowed() {
    let smtp = SmtpPeer::start().await;
    let app = spawn_app_with(&with(&smtp.vars(), &[])).await;
    assert_eq!(
        app.register("Ada Lovelace", "ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    app.clock.advance_ms(7 * 24 * 3600 * 1000 - 1);
    assert_eq!(app.ctx.accounts.purge_expired().await.unwrap(), 0);
    app.clock.advance_ms(1);
    assert_eq!(app.ctx.accounts.purge_expired().await.unwrap(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_tokens", &[]).await,
        0,
        "its token went with it"
    );

    let app = spawn_app_with(&with(
        &smtp.vars(),
        &[("ALLOW_UNVERIFIED_EMAIL_LOGIN", "true")],
    ))
    .await;
    assert_eq!(
        app.register("Ada Lovelace", "ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    let login = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200);
    assert_eq!(
        login.json::<Value>().await.unwrap()["user"]["emailVerified"],
        false
    );
    app.clock.advance_ms(30 * 24 * 3600 * 1000);
    assert_eq!(
        app.ctx.accounts.purge_expired().await.unwrap(),
        0,
        "allowed to log in: kept"
    );
}

#[tokio::test]
async fn password_reset_answers_alike_for_known_and_unknown_emails_and_mails_only_the_known() {
    let mut smtp = SmtpPeer::start().await;
    let app = spawn_app_with(&with(&smtp.vars(), &[("ALLOW_PASSWORD_RESET", "true")])).await;
    let user = verified_user(&app, "grace@example.com").await;

    let unknown = app
        .post(
            "/api/auth/requestPasswordReset",
            &json!({ "email": "nobody@example.com" }),
        )
        .await;
    let known = app
        .post(
            "/api/auth/requestPasswordReset",
            &json!({ "email": "Grace@Example.com" }),
        )
        .await;
    assert_eq!(unknown.status(), 200);
    assert_eq!(known.status(), 200);
    let unknown_body = unknown.text().await.unwrap();
    assert_eq!(
        unknown_body,
        known.text().await.unwrap(),
        "identical answers"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&unknown_body).unwrap(),
        json!({ "message": "If an account with that email exists, a password reset link has been sent to it." })
    );

    app.ctx.mail.idle().await;
    let message = smtp.received().expect("one message");
    assert!(smtp.received().is_none(), "and only one");
    assert_eq!(message["rcpt_tos"], json!(["grace@example.com"]));
    assert_eq!(message["subject"], "Password Reset Request");
    let link = link_in(
        message["text"].as_str().unwrap(),
        "http://chat.test/reset-password?",
    );
    assert_eq!(query_param(&link, "userId"), user.id);
    assert_eq!(query_param(&link, "token").len(), 64);
}

#[tokio::test]
async fn reset_rejects_a_weak_password_without_using_the_link_then_ends_every_session() {
    let mut smtp = SmtpPeer::start().await;
    let app = spawn_app_with(&with(&smtp.vars(), &[("ALLOW_PASSWORD_RESET", "true")])).await;
    let user = verified_user(&app, "grace@example.com").await;
    let session = app.signed_in_user_again("grace@example.com").await;

    let requested = app.request_password_reset("grace@example.com").await;
    assert_eq!(requested.0, 200);
    assert!(
        requested.1.get("link").is_none(),
        "the link never travels over HTTP"
    );
    let link = link_in(
        smtp.next_message().await["text"].as_str().unwrap(),
        "http://chat.test/reset-password?",
    );
    let token = query_param(&link, "token");

    let weak = app
        .reset_password(&user.id, &token, "short", Some("short"))
        .await;
    assert_eq!(weak.0, 400);
    assert!(
        weak.1["message"].as_str().unwrap().contains("at least 8"),
        "{:?}",
        weak.1
    );
    let mismatch = app
        .reset_password(&user.id, &token, "a new long password", Some("another"))
        .await;
    assert_eq!(mismatch.0, 400);

    let wrong = app
        .reset_password(&user.id, &"f".repeat(64), "a new long password", None)
        .await;
    assert_eq!(
        wrong,
        (
            400,
            json!({ "message": "Invalid or expired password reset token" })
        )
    );

    let ok = app
        .reset_password(
            &user.id,
            &token,
            "a new long password",
            Some("a new long password"),
        )
        .await;
    assert_eq!(
        ok,
        (200, json!({ "message": "Password reset was successful" }))
    );

    assert_eq!(
        app.get_user(&session.token).await.status(),
        401,
        "old access token refused at once"
    );
    assert_ne!(
        app.refresh_with_cookie(&session.refresh, "").await.status(),
        200,
        "old session gone"
    );
    assert_eq!(app.login("grace@example.com", PASSWORD).await.status(), 404);
    assert_eq!(
        app.login("grace@example.com", "a new long password")
            .await
            .status(),
        200
    );

    let reused = app
        .reset_password(&user.id, &token, "yet another password", None)
        .await;
    assert_eq!(reused.0, 400, "the link works once");

    let confirmation = smtp.next_message().await;
    assert_eq!(confirmation["subject"], "Password Reset Successfully");
    assert_eq!(confirmation["rcpt_tos"], json!(["grace@example.com"]));
}

#[tokio::test]
async fn reset_is_refused_when_disabled_and_never_leaks_a_link_without_mail() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/auth/requestPasswordReset",
            &json!({ "email": "grace@example.com" }),
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.text().await.unwrap(),
        "Password reset is not allowed."
    );
    let submission = app
        .reset_password("x", "y", "long enough password", None)
        .await;
    assert_eq!(
        submission,
        (403, Value::String("Password reset is not allowed.".into()))
    );

    // LibreChat returns the reset link itself when mail is not configured; Bouncer does not.
    let app = spawn_app_with(&[("ALLOW_PASSWORD_RESET", "true")]).await;
    verified_user(&app, "grace@example.com").await;
    let answer = app.request_password_reset("grace@example.com").await;
    assert_eq!(
        answer,
        (
            200,
            json!({ "message": "If an account with that email exists, a password reset link has been sent to it." })
        )
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_tokens", &[]).await,
        0,
        "no token was issued"
    );
}

#[tokio::test]
async fn an_invitation_opens_registration_for_that_email_once() {
    let mut smtp = SmtpPeer::start().await;
    let app = spawn_app_with(&with(&smtp.vars(), &[("ALLOW_REGISTRATION", "false")])).await;
    let outcome = bouncer::usecases::operator::invite(&app.ctx, "Invitee@Example.com")
        .await
        .unwrap();
    assert!(matches!(
        outcome,
        bouncer::usecases::notices::Invitation::Sent
    ));
    let message = smtp.next_message().await;
    assert_eq!(message["rcpt_tos"], json!(["invitee@example.com"]));
    assert_eq!(message["subject"], "Invite to join LibreChat!");
    let link = link_in(
        message["text"].as_str().unwrap(),
        "http://chat.test/register?",
    );
    let token = query_param(&link, "token");

    let register = |email: &'static str, token: Option<String>| {
        let app = &app;
        async move {
            let mut body = json!({ "name": "Invited User", "email": email, "password": PASSWORD, "confirm_password": PASSWORD });
            if let Some(t) = token {
                body["token"] = json!(t);
            }
            app.register_json(&body).await
        }
    };
    assert_eq!(
        register("invitee@example.com", None).await,
        (403, json!({ "message": "Registration is not allowed." }))
    );
    let invalid = (400, json!({ "message": "Invalid invite token" }));
    assert_eq!(
        register("other@example.com", Some(token.clone())).await,
        invalid,
        "only for the invited email"
    );
    assert_eq!(
        register("invitee@example.com", Some("0".repeat(64))).await,
        invalid
    );
    assert_eq!(
        register("invitee@example.com", Some(token.clone())).await.0,
        200
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = $1",
            &["invitee@example.com"]
        )
        .await,
        1
    );
    assert_eq!(
        register("invitee@example.com", Some(token)).await,
        invalid,
        "used once"
    );

    // The invited account verifies its email like any other.
    assert_eq!(smtp.next_message().await["subject"], "Verify your email");

    let taken = bouncer::usecases::operator::invite(&app.ctx, "invitee@example.com").await;
    assert!(taken.is_err(), "no invitation for an existing account");
}

#[tokio::test]
async fn starttls_with_a_self_signed_certificate_needs_email_allow_selfsigned() {
    let mut smtp = SmtpPeer::start_with(SmtpOptions {
        starttls: true,
        credentials: Some(("mailer", "mail-password")),
        ..Default::default()
    })
    .await;
    let peer = smtp.vars();
    let common = [
        ("EMAIL_ENCRYPTION", "starttls"),
        ("EMAIL_ENCRYPTION_HOSTNAME", "localhost"),
        ("EMAIL_USERNAME", "mailer"),
        ("EMAIL_PASSWORD", "mail-password"),
    ];

    let strict = spawn_app_with(&with(&peer, &common)).await;
    assert_eq!(
        strict
            .register("Ada Lovelace", "ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    strict.ctx.mail.idle().await;
    assert!(
        smtp.received().is_none(),
        "an unknown certificate is refused by default"
    );
    assert_eq!(
        strict.count("SELECT COUNT(*) FROM users", &[]).await,
        1,
        "the registration is kept"
    );

    let mut vars = common.to_vec();
    vars.push(("EMAIL_ALLOW_SELFSIGNED", "true"));
    let relaxed = spawn_app_with(&with(&peer, &vars)).await;
    assert_eq!(
        relaxed
            .register("Ada Lovelace", "ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    let message = smtp.next_message().await;
    assert_eq!(message["tls"], true, "sent over STARTTLS");
    assert_eq!(
        message["auth_user"], "mailer",
        "authenticated with EMAIL_USERNAME"
    );
    assert_eq!(message["subject"], "Verify your email");
}

#[tokio::test]
async fn smtp_down_at_registration_loses_nothing_and_resend_works_once_it_is_back() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let port_text = port.to_string();
    let app = spawn_app_with(&[
        ("EMAIL_HOST", "127.0.0.1"),
        ("EMAIL_PORT", &port_text),
        ("EMAIL_FROM", "noreply@bouncer.test"),
        ("DOMAIN_CLIENT", "http://chat.test"),
    ])
    .await;
    let response = app
        .register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    assert_eq!(response.status(), 200);
    app.ctx.mail.idle().await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = $1",
            &["ada@example.com"]
        )
        .await,
        1
    );

    let mut smtp = SmtpPeer::start_with(SmtpOptions {
        port: Some(port),
        ..Default::default()
    })
    .await;
    let resend = app.resend_verification("ada@example.com").await;
    assert_eq!(resend.0, 200);
    let link = link_in(
        smtp.next_message().await["text"].as_str().unwrap(),
        "http://chat.test/verify?",
    );
    let verified = app
        .verify_email("ada@example.com", &query_param(&link, "token"))
        .await;
    assert_eq!(verified.0, 200);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn mailgun_receives_the_message_over_its_http_api() {
    let mailgun = MailgunPeer::start().await;
    let app = spawn_app_with(&[
        ("MAILGUN_API_KEY", "key-test-123"),
        ("MAILGUN_DOMAIN", "mg.bouncer.test"),
        ("MAILGUN_HOST", &mailgun.url),
        ("EMAIL_FROM", "noreply@bouncer.test"),
        ("EMAIL_FROM_NAME", "Bouncer Chat"),
        ("DOMAIN_CLIENT", "http://chat.test"),
    ])
    .await;
    assert_eq!(
        app.register("Ada Lovelace", "ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    app.ctx.mail.idle().await;
    let requests = mailgun.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/v3/mg.bouncer.test/messages");
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode("api:key-test-123");
    assert_eq!(
        request.authorization.as_deref(),
        Some(format!("Basic {expected}").as_str())
    );
    assert!(request.field("to").unwrap().contains("ada@example.com"));
    assert_eq!(
        request.field("from"),
        Some("Bouncer Chat <noreply@bouncer.test>")
    );
    assert_eq!(request.field("subject"), Some("Verify your email"));
    assert_eq!(request.field("o:tracking-clicks"), Some("no"));
    let link = link_in(request.field("text").unwrap(), "http://chat.test/verify?");
    let verified = app
        .verify_email("ada@example.com", &query_param(&link, "token"))
        .await;
    assert_eq!(verified.0, 200);
}

#[tokio::test]
async fn the_reset_and_verify_routes_have_their_limiters() {
    let app = spawn_app_with(&[
        ("ALLOW_PASSWORD_RESET", "true"),
        ("RESET_PASSWORD_MAX", "2"),
        ("VERIFY_EMAIL_SUBMISSION_MAX", "2"),
    ])
    .await;
    for _ in 0..2 {
        assert_eq!(app.request_password_reset("a@example.com").await.0, 200);
        assert_eq!(app.verify_email("a@example.com", "x").await.0, 400);
    }
    let reset = app.request_password_reset("a@example.com").await;
    assert_eq!(reset.0, 429);
    assert!(
        reset.1["message"]
            .as_str()
            .unwrap()
            .starts_with("Too many attempts"),
        "{:?}",
        reset.1
    );
    assert_eq!(app.verify_email("a@example.com", "x").await.0, 429);
}

#[tokio::test]
async fn config_reports_email_and_password_reset_as_librechat_does() {
    let smtp = SmtpPeer::start().await;
    let peer = smtp.vars();
    let config = |app: TestApp| async move {
        app.bare
            .get(app.url("/api/config"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let c = config(spawn_app().await).await;
    assert_eq!(
        (c["emailEnabled"].clone(), c["passwordResetEnabled"].clone()),
        (json!(false), json!(false))
    );
    // Unauthenticated SMTP works for sending, but LibreChat's client rule still says false.
    let c = config(spawn_app_with(&with(&peer, &[("ALLOW_PASSWORD_RESET", "true")])).await).await;
    assert_eq!(
        (c["emailEnabled"].clone(), c["passwordResetEnabled"].clone()),
        (json!(false), json!(true))
    );
    let c = config(
        spawn_app_with(&with(
            &peer,
            &[("EMAIL_USERNAME", "u"), ("EMAIL_PASSWORD", "p")],
        ))
        .await,
    )
    .await;
    assert_eq!(c["emailEnabled"], true);
}

#[tokio::test]
async fn without_mail_accounts_from_before_librechat_verification_are_verified_at_login() {
    let app = spawn_app().await;
    for email in ["old@example.com", "new@example.com"] {
        assert_eq!(
            app.register("Some User", email, PASSWORD).await.status(),
            200
        );
    }
    let db = app.db().await;
    // As imported from a LibreChat of before 2024-06-07, and one imported unverified later.
    sqlx::query("UPDATE users SET email_verified = 0, created_at = 1600000000000 WHERE email = 'old@example.com'")
        .execute(&db).await.unwrap();
    sqlx::query("UPDATE users SET email_verified = 0 WHERE email = 'new@example.com'")
        .execute(&db)
        .await
        .unwrap();
    let old = app.login("old@example.com", PASSWORD).await;
    assert_eq!(old.status(), 200);
    assert_eq!(
        old.json::<Value>().await.unwrap()["user"]["emailVerified"],
        true
    );
    assert_eq!(app.login("new@example.com", PASSWORD).await.status(), 422);
}
