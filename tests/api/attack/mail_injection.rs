//! Header injection through display names, and mail tasks that panic: a line break in a name
//! must neither forge a header of the mail sent to its owner nor stop the mail of everyone else.

use std::process::{Command, Stdio};
use std::time::Duration;

use bouncer::accounts::ExternalRules;
use bouncer::sso::ExternalProfile;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::mail_peers::*;

/// The name of the outside attack, and its variants in every kind of control character.
const HOSTILE: &str = "Eve\r\nBcc: x@evil.example";
const CONTROLS: &[&str] = &[
    "\r\n", "\n", "\r", "\t", "\0", "\u{1b}", "\u{7f}", "\u{85}", "\u{2028}", "\u{2029}",
];

/// A hang guard for `Mailer::idle`, not a timing assertion.
async fn idle(app: &TestApp) {
    tokio::time::timeout(Duration::from_secs(30), app.ctx.mail.idle())
        .await
        .expect("every background message ends: none holds its queue place");
}

fn registration(name: &str, username: Option<&str>, email: &str) -> Value {
    let mut body = json!({
        "name": name, "email": email, "password": PASSWORD, "confirm_password": PASSWORD,
    });
    if let Some(username) = username {
        body["username"] = json!(username);
    }
    body
}

/// The peer's variables plus password reset allowed.
fn mail_vars(smtp: &SmtpPeer) -> Vec<(&'static str, String)> {
    let mut vars = smtp.vars();
    vars.push(("ALLOW_PASSWORD_RESET", "true".into()));
    vars
}

fn as_pairs<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A verified user whose name was then set, as an import from LibreChat would store it, to
/// `name`: straight into the database, past registration's rules.
async fn imported_user(app: &TestApp, email: &str, name: &str) {
    let (status, _) = app
        .register_json(&registration("Eve Example", None, email))
        .await;
    assert_eq!(status, 200);
    let db = app.db().await;
    sqlx::query("UPDATE users SET name = $1, email_verified = 1 WHERE email = $2")
        .bind(name)
        .bind(email)
        .execute(&db)
        .await
        .unwrap();
}

/// The delivered message is well formed: one recipient, the envelope's, and no header but
/// the ones Bouncer writes.
fn assert_clean(message: &Value, email: &str) {
    assert_eq!(message["rcpt_tos"], json!([email]), "{message}");
    let names: Vec<&str> = message["header_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for name in &names {
        assert!(
            [
                "From",
                "To",
                "Subject",
                "Date",
                "MIME-Version",
                "Content-Type"
            ]
            .contains(name),
            "header {name:?} was injected: {message}"
        );
    }
    let to = message["to"].as_str().unwrap();
    assert!(to.ends_with(&format!("<{email}>")), "{to}");
    assert!(!to.contains(['\r', '\n']), "{to:?}");
}

/// Class: header injection through display names / mail task panics. The outside attack's
/// name, and every other control character, in a name or a username is refused with the
/// validation message, and nobody is created.
#[tokio::test]
async fn registration_refuses_control_characters_in_names_and_usernames() {
    let app = spawn_app().await;
    let (status, body) = app
        .register_json(&registration(HOSTILE, None, "eve@example.com"))
        .await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({ "message": "name: Invalid characters in name" })
        )
    );
    // A NUL never reaches validation: any JSON field with one is a 400 (see below).
    for (i, control) in CONTROLS.iter().filter(|c| **c != "\0").enumerate() {
        let email = format!("eve{i}@example.com");
        let name = format!("Eve{control}Example");
        let (status, body) = app.register_json(&registration(&name, None, &email)).await;
        assert_eq!(
            (status, body),
            (
                404,
                json!({ "message": "name: Invalid characters in name" })
            ),
            "{control:?}"
        );
        let username = format!("eve{control}x");
        let (status, body) = app
            .register_json(&registration("Eve Example", Some(&username), &email))
            .await;
        assert_eq!(
            (status, body),
            (
                404,
                json!({ "message": "username: Invalid characters in username" })
            ),
            "{control:?}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 0);
    let (status, _) = app
        .register_json(&registration(
            "Jānis Bērziņš",
            Some("janis"),
            "janis@example.com",
        ))
        .await;
    assert_eq!(status, 200, "letters of any script are still names");
}

/// Class: header injection through display names / mail task panics. A stored name with a
/// line break (an imported row) still gets its password-reset mail, well formed, with no
/// `Bcc` header and no second recipient at a real SMTP server.
#[tokio::test]
async fn an_imported_name_with_a_line_break_gets_a_clean_reset_mail() {
    let mut smtp = SmtpPeer::start().await;
    let vars = mail_vars(&smtp);
    let app = spawn_app_with(&as_pairs(&vars)).await;
    imported_user(&app, "eve@example.com", HOSTILE).await;
    let verification = smtp.next_message().await;
    assert_clean(&verification, "eve@example.com");

    assert_eq!(app.request_password_reset("eve@example.com").await.0, 200);
    let reset = smtp.next_message().await;
    assert_clean(&reset, "eve@example.com");
    assert_eq!(reset["subject"], "Password Reset Request");
    assert!(
        reset["text"]
            .as_str()
            .unwrap()
            .contains("http://chat.test/reset-password?"),
        "{reset}"
    );
    let to = reset["to"].as_str().unwrap();
    assert!(
        to.contains("Eve Bcc: x@evil.example"),
        "kept, on one line: {to}"
    );
    idle(&app).await;
    assert!(smtp.received().is_none(), "nothing else was sent");
}

/// Class: header injection through display names / mail task panics. Many mails to hostile
/// names leave the queue empty (`idle` returns), and a later registration still gets its
/// verification mail.
#[tokio::test]
async fn many_mails_to_hostile_names_leave_later_mail_flowing() {
    let mut smtp = SmtpPeer::start().await;
    let vars = mail_vars(&smtp);
    let app = spawn_app_with(&as_pairs(&vars)).await;
    let mut hostile = vec![HOSTILE.to_string()];
    // PostgreSQL cannot hold a NUL in text, so no import can bring one there.
    hostile.extend(
        CONTROLS
            .iter()
            .filter(|c| **c != "\0")
            .map(|c| format!("Eve{c}Bcc: x@evil.example")),
    );
    for (i, name) in hostile.iter().enumerate() {
        let email = format!("eve{i}@example.com");
        imported_user(&app, &email, name).await;
        for _ in 0..3 {
            assert_eq!(app.request_password_reset(&email).await.0, 200);
        }
    }
    idle(&app).await;
    // The background sends finish in any order: one verification and three resets each.
    let mut resets = 0;
    for _ in 0..hostile.len() * 4 {
        let message = smtp.next_message().await;
        assert_clean(&message, message["rcpt_tos"][0].as_str().unwrap());
        if message["subject"] == "Password Reset Request" {
            resets += 1;
        }
    }
    assert_eq!(resets, hostile.len() * 3);
    assert!(smtp.received().is_none());

    let (status, _) = app
        .register_json(&registration("Ada Lovelace", None, "ada@example.com"))
        .await;
    assert_eq!(status, 200);
    let later = smtp.next_message().await;
    assert_eq!(later["rcpt_tos"], json!(["ada@example.com"]));
    assert_eq!(later["subject"], "Verify your email");
    idle(&app).await;
}

/// Class: header injection through display names / mail task panics. A provider's name and
/// username with line breaks are stored on one line: the sign-in is not refused (that would
/// lock the person out over the provider's data), and nothing with a line break is kept.
#[tokio::test]
async fn a_providers_names_are_stored_on_one_line() {
    let app = spawn_app().await;
    let profile = ExternalProfile {
        provider: bouncer::accounts::Provider::OpenId,
        issuer: "https://id.example.com".into(),
        subject: "eve-1".into(),
        email: Some("eve@example.com".into()),
        email_verified: true,
        name: HOSTILE.into(),
        username: "eve\r\nadmin".into(),
        avatar: None,
        admin: None,
    };
    let rules = ExternalRules {
        may_register: true,
        allow_linking: false,
    };
    let user = app
        .ctx
        .accounts
        .sign_in_external(&profile, rules)
        .await
        .unwrap();
    assert_eq!(user.name, "Eve Bcc: x@evil.example");
    assert_eq!(user.username, "eve admin");
    let db = app.db().await;
    let (name, username): (String, String) =
        sqlx::query_as("SELECT name, username FROM users WHERE email = 'eve@example.com'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        (name.as_str(), username.as_str()),
        ("Eve Bcc: x@evil.example", "eve admin")
    );

    let only_controls = ExternalProfile {
        subject: "eve-2".into(),
        email: Some("eve2@example.com".into()),
        name: "\r\n".into(),
        username: "eve2".into(),
        ..profile
    };
    let user = app
        .ctx
        .accounts
        .sign_in_external(&only_controls, rules)
        .await
        .unwrap();
    assert_eq!(user.name, "eve2", "nothing left of the name: the username");
}

/// Class: header injection through display names / mail task panics. `create-user` follows
/// registration's rules: a name with a line break is refused, and nobody is created.
#[tokio::test]
async fn create_user_refuses_control_characters_in_names() {
    let app = spawn_app().await;
    for (name, username, expected) in [
        (HOSTILE, "eve", "name: Invalid characters in name"),
        (
            "Eve Example",
            "eve\nadmin",
            "username: Invalid characters in username",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_bouncer"))
            .current_dir(app.dir.path())
            .env_clear()
            .env("DATABASE_URL", &app.database_url)
            .env("JWT_SECRET", JWT_SECRET)
            .env("JWT_REFRESH_SECRET", JWT_REFRESH_SECRET)
            .args(["create-user", "eve@example.com", name, username, PASSWORD])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{expected:?} not in {stderr:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 0);
}

/// Class: header injection through display names / mail task panics (control characters in
/// input). A NUL in any field of a JSON body is a 400 on every engine: PostgreSQL cannot hold
/// one in text, and a lookup with one was a 500 there.
#[tokio::test]
async fn a_nul_in_any_json_field_is_a_bad_request() {
    let app = spawn_app_with(&[("ALLOW_PASSWORD_RESET", "true")]).await;
    let expected = json!({ "message": "Invalid JSON body: strings may not contain NUL (\\u0000)" });
    for (path, body) in [
        (
            "/api/auth/requestPasswordReset",
            json!({ "email": "a\u{0}@b.co" }),
        ),
        (
            "/api/auth/login",
            json!({ "email": "ada@example.com", "password": "x\u{0}xxxxxxxxx" }),
        ),
        (
            "/api/user/verify",
            json!({ "email": "a@b.co", "token": "\u{0}" }),
        ),
        (
            "/api/auth/resetPassword",
            json!({ "userId": "\u{0}", "token": "t", "password": PASSWORD, "confirm_password": PASSWORD }),
        ),
        (
            "/api/auth/register",
            json!({ "name": "Eve Example", "email": "eve@example.com", "password": PASSWORD,
                    "confirm_password": PASSWORD, "extra": { "nested\u{0}key": [1] } }),
        ),
    ] {
        let response = app.post(path, &body).await;
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap(), expected, "{path}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 0);
}

/// Class: header injection through display names / mail task panics. Through Mailgun's API
/// too: a stored name with a line break, and a hostile `EMAIL_FROM_NAME`, reach it as one
/// quoted mailbox each, and the subject as one line.
#[tokio::test]
async fn mailgun_gets_one_line_mailboxes_from_hostile_names() {
    let mailgun = MailgunPeer::start().await;
    let app = spawn_app_with(&[
        ("MAILGUN_API_KEY", "key-test-123"),
        ("MAILGUN_DOMAIN", "mg.bouncer.test"),
        ("MAILGUN_HOST", &mailgun.url),
        ("EMAIL_FROM", "noreply@bouncer.test"),
        ("EMAIL_FROM_NAME", "Bouncer\r\nBcc: y@evil.example"),
        ("DOMAIN_CLIENT", "http://chat.test"),
        ("ALLOW_PASSWORD_RESET", "true"),
    ])
    .await;
    imported_user(
        &app,
        "eve@example.com",
        "Eve, x@evil.example\r\nBcc: x@evil.example",
    )
    .await;
    idle(&app).await;
    assert_eq!(app.request_password_reset("eve@example.com").await.0, 200);
    idle(&app).await;
    let requests = mailgun.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "verification and reset");
    let reset = &requests[1];
    assert_eq!(
        reset.field("to"),
        Some(r#""Eve, x@evil.example Bcc: x@evil.example" <eve@example.com>"#)
    );
    assert_eq!(
        reset.field("from"),
        Some(r#""Bouncer Bcc: y@evil.example" <noreply@bouncer.test>"#)
    );
    assert_eq!(reset.field("subject"), Some("Password Reset Request"));
    assert_eq!(reset.field("bcc"), None);
}
