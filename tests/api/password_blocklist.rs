//! The common-password blocklist on the JSON routes that set a password: registration and the
//! emailed reset (the account page and the CLI are in `pages.rs` and `cli.rs`). Sign-in is
//! never checked: an account with an old common password still signs in and may change it.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::mail_peers::*;

const REFUSAL: &str = "password: This password is too common";

async fn register(app: &TestApp, name: &str, email: &str, password: &str) -> (u16, Value) {
    let response = app.register(name, email, password).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn refused(answer: &(u16, Value)) -> bool {
    answer.0 == 404
        && answer.1["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(REFUSAL))
}

#[tokio::test]
async fn registration_refuses_common_passwords_in_librechats_validation_shape() {
    let app = spawn_app().await;
    for common in [
        "password123",
        "iloveyou",
        "Qwertyuiop",
        "P@ssw0rd",
        "1234567890",
    ] {
        let answer = register(&app, "Ada Lovelace", "ada@example.com", common).await;
        assert!(refused(&answer), "{common}: {answer:?}");
    }
    // The account's own words: its email, its local part, its name; and the product's name.
    for own in [
        "ada.lovelace@example.com",
        "ada.lovelace",
        "Augusta Ada King",
        "LibreChat",
    ] {
        let answer = register(&app, "Augusta Ada King", "ada.lovelace@example.com", own).await;
        assert!(refused(&answer), "{own}: {answer:?}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users", &[]).await,
        0,
        "nothing was created"
    );
    let strong = register(&app, "Ada Lovelace", "ada@example.com", PASSWORD).await;
    assert_eq!(strong.0, 200, "{strong:?}");
    // Sign-in is never checked against the list.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn the_switch_turns_the_list_off_and_the_operators_file_adds_to_it() {
    let off = spawn_app_with(&[("PASSWORD_BLOCKLIST", "false")]).await;
    let answer = register(&off, "Ada Lovelace", "ada@example.com", "password123").await;
    assert_eq!(answer.0, 200, "{answer:?}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ours.txt");
    std::fs::write(&file, "# the company's own\nAcme Rocket 2026\n").unwrap();
    let file = file.to_str().unwrap().to_string();
    let ours = spawn_app_with(&[("PASSWORD_BLOCKLIST_FILE", &file)]).await;
    let listed = register(&ours, "Ada Lovelace", "ada@example.com", "acme rocket 2026").await;
    assert!(refused(&listed), "{listed:?}");
    let common = register(&ours, "Ada Lovelace", "ada@example.com", "password123").await;
    assert!(refused(&common), "zxcvbn's list still applies: {common:?}");
    let fine = register(
        &ours,
        "Ada Lovelace",
        "ada@example.com",
        "acme rocket 2027 launch",
    )
    .await;
    assert_eq!(fine.0, 200, "{fine:?}");
}

#[tokio::test]
async fn a_reset_to_a_common_password_is_refused_and_leaves_the_link_usable() {
    let mut smtp = SmtpPeer::start().await;
    let peer = smtp.vars();
    let mut vars: Vec<(&str, &str)> = peer.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.push(("ALLOW_PASSWORD_RESET", "true"));
    let app = spawn_app_with(&vars).await;
    let (status, body) = register(&app, "Grace Hopper", "grace@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body:?}");
    let _verification = smtp.next_message().await;
    let user_id = bouncer::store::users::find_by_email(&app.ctx.db, "grace@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;

    assert_eq!(app.request_password_reset("grace@example.com").await.0, 200);
    let link = link_in(
        smtp.next_message().await["text"].as_str().unwrap(),
        "http://chat.test/reset-password?",
    );
    let token = query_param(&link, "token");

    // A stranger without the link learns nothing of the account's words: the link is
    // checked first.
    let stranger = app
        .reset_password(&user_id, &"f".repeat(64), "grace@example.com", None)
        .await;
    assert_eq!(
        stranger,
        (
            400,
            json!({ "message": "Invalid or expired password reset token" })
        )
    );
    for common in ["sunshine1", "grace@example.com", "Grace Hopper"] {
        let answer = app
            .reset_password(&user_id, &token, common, Some(common))
            .await;
        assert_eq!(answer.0, 400, "{common}: {answer:?}");
        assert!(
            answer.1["message"].as_str().unwrap().starts_with(REFUSAL),
            "{common}: {answer:?}"
        );
    }
    let ok = app
        .reset_password(&user_id, &token, "a fresh long passphrase", None)
        .await;
    assert_eq!(
        ok,
        (200, json!({ "message": "Password reset was successful" })),
        "the refusals left the link usable"
    );
}
