//! The sign-in pages walked in a real Chromium, as a person would: every page met is checked
//! by axe (light and dark) and photographed (`target/screenshots/`).

use cookie::SameSite;
use serde_json::Value;

use super::harness::Browser;
use super::pages::{runs_in_this_pass, totp, UI, WRONG_CREDENTIALS};
use crate::helpers::*;
use crate::mail_peers::{link_in, query_param, SmtpPeer};

/// Sign in (a wrong password first), turn 2FA on from the account page with a code computed
/// from the secret it shows, sign out, sign in with a TOTP code, then with a backup code, which
/// works once.
#[tokio::test]
async fn sign_in_two_factor_backup_code_and_sign_out_in_a_browser() {
    let test = "sign_in_two_factor_backup_code_and_sign_out_in_a_browser";
    if !runs_in_this_pass(test, true) {
        return;
    }
    let Some(browser) = Browser::open(test).await else {
        return;
    };
    let app = spawn_app_at_own_origin(&[]).await;
    assert_eq!(
        app.register("Ada Lovelace", "ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );

    // Signed out, the account page sends the browser to the sign-in page, with the way back.
    browser.goto(&app.url(&format!("{UI}/account"))).await;
    let url = browser.url().await;
    assert_eq!(url.path(), format!("{UI}/login"));
    let rd = url
        .query_pairs()
        .find(|(k, _)| k == "rd")
        .map(|(_, v)| v.into_owned())
        .expect("an rd to come back to");
    assert!(rd.ends_with(&format!("{UI}/account")), "{rd}");
    browser.check_page("login").await;

    // A wrong password: LibreChat's message, in the page-level alert.
    browser
        .send_login_form("ada@example.com", "not the password")
        .await;
    assert_eq!(browser.path().await, format!("{UI}/login"));
    assert!(
        browser
            .text("#form-error")
            .await
            .contains(WRONG_CREDENTIALS),
        "{}",
        browser.body_text().await
    );
    assert_eq!(
        browser
            .find("#form-error")
            .await
            .attr("role")
            .await
            .unwrap(),
        Some("alert".into())
    );
    assert!(browser.sso_cookie().await.is_none(), "no session yet");
    browser.check_page("login-error").await;

    // The right one: back to the account page, with the single-sign-on cookie.
    browser.send_login_form("ada@example.com", PASSWORD).await;
    assert_eq!(browser.path().await, format!("{UI}/account"));
    let cookie = browser.sso_cookie().await.expect("the SSO cookie is set");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(SameSite::Lax));
    assert_eq!(
        browser
            .eval("return document.cookie.includes('bouncer_session');")
            .await,
        Value::Bool(false),
        "the session cookie is out of scripts' reach"
    );
    browser.check_page("account").await;

    // 2FA on: the setup page shows a QR code and the secret; the code computed from it
    // confirms, and the backup codes are listed once.
    browser.submit("#two-factor-setup-form").await;
    assert!(browser.has("svg").await, "an inline SVG QR code");
    let secret = browser.text("#totp-secret").await;
    browser.check_page("two-factor-setup").await;
    browser.fill("code", &totp(&secret, &app)).await;
    browser.submit("#two-factor-confirm-form").await;
    let mut backup_codes = Vec::new();
    for item in browser.find_all("#backup-codes li").await {
        backup_codes.push(item.text().await.unwrap().trim().to_string());
    }
    assert!(
        backup_codes.len() >= 8,
        "backup codes listed: {backup_codes:?}\n{}",
        browser.body_text().await
    );
    browser.check_page("backup-codes").await;
    let enabled = app
        .count(
            "SELECT COUNT(*) FROM users WHERE email = $1 AND two_factor_enabled = 1",
            &["ada@example.com"],
        )
        .await;
    assert_eq!(enabled, 1, "2FA is on in the store");

    // Sign out: a confirmation, then a notice, and the cookie is gone.
    browser.goto(&app.url(&format!("{UI}/logout"))).await;
    browser.check_page("logout").await;
    browser.submit("#logout-form").await;
    assert!(browser.has("#notice").await);
    browser.check_page("signed-out").await;
    assert!(browser.sso_cookie().await.is_none(), "signed out");
    browser.goto(&app.url(&format!("{UI}/account"))).await;
    assert_eq!(browser.path().await, format!("{UI}/login"), "signed out");

    // Signing in now asks for the second factor; a code of the next step lets the browser in.
    app.clock.advance_ms(30_000);
    browser
        .sign_in(&app.base, "ada@example.com", PASSWORD)
        .await;
    assert!(
        browser.has("#second-factor-form").await,
        "{}",
        browser.body_text().await
    );
    assert!(browser.sso_cookie().await.is_none(), "not before the code");
    browser.check_page("second-factor").await;
    browser.fill("code", "000000").await;
    browser.submit("#second-factor-form").await;
    assert!(browser.has("#form-error").await, "a wrong code is refused");
    assert!(browser.sso_cookie().await.is_none());
    browser.check_page("second-factor-error").await;
    // The page asks again (by the form it shows again, or from the start).
    if !browser.has("#second-factor-form").await {
        browser
            .sign_in(&app.base, "ada@example.com", PASSWORD)
            .await;
    }
    browser.fill("code", &totp(&secret, &app)).await;
    browser.submit("#second-factor-form").await;
    assert_eq!(browser.path().await, format!("{UI}/account"));
    assert!(browser.sso_cookie().await.is_some());
    browser.sign_out(&app.base).await;

    // A backup code instead of a TOTP code: it works once.
    browser
        .sign_in(&app.base, "ada@example.com", PASSWORD)
        .await;
    browser.fill("code", &backup_codes[0]).await;
    browser.submit("#second-factor-form").await;
    assert_eq!(
        browser.path().await,
        format!("{UI}/account"),
        "{}",
        browser.body_text().await
    );
    browser.sign_out(&app.base).await;
    browser
        .sign_in(&app.base, "ada@example.com", PASSWORD)
        .await;
    browser.fill("code", &backup_codes[0]).await;
    browser.submit("#second-factor-form").await;
    assert!(browser.has("#form-error").await, "a used backup code");
    assert!(browser.sso_cookie().await.is_none());
    browser.close().await;
}

/// Register with the form, verify by the mailed link, forget the password, reset it by the
/// mailed link, sign in with the new one.
#[tokio::test]
async fn register_verify_and_reset_by_the_mailed_links_in_a_browser() {
    let test = "register_verify_and_reset_by_the_mailed_links_in_a_browser";
    if !runs_in_this_pass(test, false) {
        return;
    }
    let Some(browser) = Browser::open(test).await else {
        return;
    };
    let mut smtp = SmtpPeer::start().await;
    let mut vars: Vec<(&str, String)> = smtp.vars();
    vars.push(("ALLOW_PASSWORD_RESET", "true".into()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_at_own_origin(&vars).await;
    // A mailed link, opened on the test's server (the mail names DOMAIN_SERVER).
    let on_app = |link: &str| {
        let url = url::Url::parse(link).unwrap();
        app.url(&format!(
            "{}?{}",
            url.path(),
            url.query().unwrap_or_default()
        ))
    };

    browser.goto(&app.url(&format!("{UI}/register"))).await;
    browser.check_page("register").await;
    // Mismatched passwords: refused, with the field's error tied to its input.
    for (field, value) in [
        ("name", "Grace Hopper"),
        ("username", "grace"),
        ("email", "grace@example.com"),
        ("password", PASSWORD),
        ("confirm_password", "something else entirely"),
    ] {
        browser.fill(field, value).await;
    }
    browser.submit_unchecked("#register-form").await;
    let errors = browser.errors_shown().await;
    assert!(
        !errors.is_empty(),
        "a mismatch is refused: {}",
        browser.body_text().await
    );
    // A field's error is tied to its input.
    for (id, _) in &errors {
        if let Some(field) = id.strip_suffix("-error").filter(|f| *f != "form") {
            let described = browser
                .find(&format!("#{field}"))
                .await
                .attr("aria-describedby")
                .await
                .unwrap();
            assert!(
                described.is_some_and(|d| d.split_whitespace().any(|x| x == id)),
                "#{field} is described by #{id}"
            );
        }
    }
    browser.check_page("register-error").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users", &[]).await,
        0,
        "nobody registered"
    );
    for (field, value) in [
        ("name", "Grace Hopper"),
        ("username", "grace"),
        ("email", "grace@example.com"),
        ("password", PASSWORD),
        ("confirm_password", PASSWORD),
    ] {
        browser.fill(field, value).await;
    }
    browser.submit("#register-form").await;
    assert!(
        browser.has("#notice").await,
        "registered: {}",
        browser.body_text().await
    );
    browser.check_page("registered").await;

    // The verification mail's link (its token and email) on the verify page.
    let message = smtp.next_message().await;
    assert_eq!(message["subject"], "Verify your email");
    let link = link_in(message["text"].as_str().unwrap(), "http");
    let token = query_param(&link, "token");
    let email = query_param(&link, "email");
    browser
        .goto(&app.url(&format!(
            "{UI}/verify?token={token}&email={}",
            url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>()
        )))
        .await;
    assert!(
        browser.has("#notice").await,
        "verified: {}",
        browser.body_text().await
    );
    browser.check_page("verified").await;
    browser
        .goto(&app.url(&format!("{UI}/verify?token={token}&email=x%40example.com")))
        .await;
    assert!(
        browser.has("#form-error").await,
        "a token for another email"
    );
    assert!(
        browser.has("#resend-form").await,
        "with a way to get a new one"
    );
    browser.check_page("verify-error").await;

    // Forgotten password: the same notice for an unknown email, a mail only for the known.
    browser.goto(&app.url(&format!("{UI}/forgot"))).await;
    browser.check_page("forgot").await;
    browser.fill("email", "nobody@example.com").await;
    browser.submit("#forgot-form").await;
    let unknown_notice = browser.text("#notice").await;
    browser.goto(&app.url(&format!("{UI}/forgot"))).await;
    browser.fill("email", "grace@example.com").await;
    browser.submit("#forgot-form").await;
    assert_eq!(
        browser.text("#notice").await,
        unknown_notice,
        "tells nothing"
    );
    browser.check_page("forgot-sent").await;
    let message = smtp.next_message().await;
    assert_eq!(
        message["rcpt_tos"],
        serde_json::json!(["grace@example.com"])
    );
    let link = link_in(
        message["text"].as_str().unwrap(),
        &app.url(&format!("{UI}/reset?")),
    );

    // The reset page from the link: a weak password is refused, a good one taken.
    browser.goto(&on_app(&link)).await;
    browser.check_page("reset").await;
    browser.fill("password", "short").await;
    browser.fill("confirm_password", "short").await;
    browser.submit_unchecked("#reset-form").await;
    assert!(
        !browser.errors_shown().await.is_empty(),
        "a weak password: {}",
        browser.body_text().await
    );
    browser.check_page("reset-error").await;
    let new_password = "a brand new password";
    if !browser.has("#reset-form").await {
        browser.goto(&on_app(&link)).await;
    }
    browser.fill("password", new_password).await;
    browser.fill("confirm_password", new_password).await;
    browser.submit("#reset-form").await;
    assert!(
        browser.has("#notice").await,
        "reset: {}",
        browser.body_text().await
    );
    browser.check_page("reset-done").await;
    let to_login = browser.find(&format!("a[href*='{UI}/login']")).await;
    browser.click_and_wait(to_login).await;
    assert_eq!(browser.path().await, format!("{UI}/login"));

    // The old password no longer works; the new one does.
    browser.send_login_form("grace@example.com", PASSWORD).await;
    assert!(browser
        .text("#form-error")
        .await
        .contains(WRONG_CREDENTIALS));
    browser
        .send_login_form("grace@example.com", new_password)
        .await;
    assert_eq!(browser.path().await, format!("{UI}/account"));
    browser.close().await;
}

/// The account page lists the user's sessions, the browser's own marked; revoking another
/// one ends it (its refresh token is refused), and a password change from the page works.
#[tokio::test]
async fn the_account_page_revokes_another_session_and_changes_the_password() {
    let test = "the_account_page_revokes_another_session_and_changes_the_password";
    if !runs_in_this_pass(test, false) {
        return;
    }
    let Some(browser) = Browser::open(test).await else {
        return;
    };
    let app = spawn_app_at_own_origin(&[]).await;
    // A session elsewhere (the JSON API, as LibreChat's web client signs in).
    let elsewhere = app.signed_in_user("ada@example.com").await;

    browser
        .sign_in(&app.base, "ada@example.com", PASSWORD)
        .await;
    assert_eq!(browser.path().await, format!("{UI}/account"));
    let rows = browser
        .find_all("#sessions-table tr[data-session-id]")
        .await;
    assert!(rows.len() >= 2, "both sessions are listed");
    let mut other = None;
    let mut current = 0;
    for row in &rows {
        if row.attr("data-current").await.unwrap().as_deref() == Some("true") {
            current += 1;
        } else {
            other = row.attr("data-session-id").await.unwrap();
        }
    }
    assert_eq!(current, 1, "the browser's own session is marked");
    let other = other.expect("another session");
    let button = browser
        .find(&format!(
            "#sessions-table tr[data-session-id='{other}'] .revoke-session-form button[type=submit]"
        ))
        .await;
    browser.click_and_wait(button).await;
    assert!(
        !browser
            .has(&format!("#sessions-table tr[data-session-id='{other}']"))
            .await,
        "the revoked session is gone from the list"
    );
    browser.check_page("account-session-revoked").await;
    let refreshed = app.refresh_with_cookie(&elsewhere.refresh, "").await;
    assert!(
        refreshed.status().is_client_error(),
        "the revoked session cannot refresh: {}",
        refreshed.status()
    );

    // Change the password: a wrong current one is refused, then the change takes.
    let new_password = "another fine password";
    browser.fill("current_password", "not it at all").await;
    browser.fill("password", new_password).await;
    browser.fill("confirm_password", new_password).await;
    browser.submit("#password-form").await;
    assert!(
        !browser.errors_shown().await.is_empty(),
        "{}",
        browser.body_text().await
    );
    browser.check_page("account-password-error").await;
    browser.goto(&app.url(&format!("{UI}/account"))).await;
    browser.fill("current_password", PASSWORD).await;
    browser.fill("password", new_password).await;
    browser.fill("confirm_password", new_password).await;
    browser.submit("#password-form").await;
    assert!(
        browser.has("#notice").await,
        "{}",
        browser.body_text().await
    );
    assert_eq!(
        app.login("ada@example.com", new_password).await.status(),
        200
    );
    browser.close().await;
}
