//! Passkeys in a real Chromium with its virtual authenticator (DevTools protocol
//! `WebAuthn.addVirtualAuthenticator`: CTAP2, internal, resident keys, user verification):
//! add a passkey on the account page, sign out, sign in with it, use it as the second factor,
//! remove it; a replayed assertion and a page of another origin are refused.

use serde_json::{json, Value};

use super::harness::Browser;
use super::pages::{runs_in_this_pass, UI};
use crate::helpers::*;

/// Records what the passkey script posts (the page's own `form.submit`), so that the test can
/// post it once more; evaluated in every new document before the page's scripts.
const CAPTURE: &str = "(function () { const submit = HTMLFormElement.prototype.submit; \
    HTMLFormElement.prototype.submit = function () { \
      if (this.elements.credential) { sessionStorage.setItem('posted', JSON.stringify({ \
        ceremony: this.elements.ceremony.value, credential: this.elements.credential.value })); } \
      submit.call(this); }; })();";

async fn add_virtual_authenticator(browser: &Browser) -> String {
    browser.cdp("WebAuthn.enable", json!({})).await;
    let added = browser
        .cdp(
            "WebAuthn.addVirtualAuthenticator",
            json!({ "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
                "automaticPresenceSimulation": true,
            }}),
        )
        .await;
    added["authenticatorId"].as_str().unwrap().to_string()
}

async fn credentials(browser: &Browser, authenticator: &str) -> Vec<Value> {
    browser
        .cdp(
            "WebAuthn.getCredentials",
            json!({ "authenticatorId": authenticator }),
        )
        .await["credentials"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn passkeys_register_sign_in_second_factor_and_removal_in_a_browser() {
    let test = "passkeys_register_sign_in_second_factor_and_removal_in_a_browser";
    if !runs_in_this_pass(test, false) {
        return;
    }
    let Some(browser) = Browser::open(test).await else {
        return;
    };
    let app = spawn_app_at_localhost(&[]).await;
    let base = app.base.replace("127.0.0.1", "localhost");
    assert_eq!(
        app.register("Ada Lovelace", "ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    // An API session of before the passkey (a password alone signs in no more after it).
    let token: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    browser.sign_in(&base, "ada@example.com", PASSWORD).await;
    assert_eq!(browser.path().await, format!("{UI}/account"));
    let authenticator = add_virtual_authenticator(&browser).await;

    // Add a passkey: the script runs the ceremony, the page answers with it listed.
    browser.fill("passkey-name", "Laptop").await;
    browser.submit("#passkey-register-form").await;
    assert!(
        browser.body_text().await.contains("The passkey was added."),
        "{}",
        browser.body_text().await
    );
    assert_eq!(browser.find_all("#passkeys-table tbody tr").await.len(), 1);
    browser.check_page("account-passkeys").await;
    let stored = credentials(&browser, &authenticator).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]["isResidentCredential"], true,
        "a discoverable credential"
    );

    // Sign out, then in with the passkey alone: the sign-in page offers it in the browser's
    // autofill (conditional UI), which the virtual authenticator answers at once.
    browser.sign_out(&base).await;
    browser
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": CAPTURE }),
        )
        .await;
    browser.goto(&format!("{base}{UI}/login")).await;
    let arrived = poll_for(400, std::time::Duration::from_millis(25), || async {
        (browser.path().await == format!("{UI}/account")).then_some(())
    })
    .await;
    assert!(
        arrived.is_some(),
        "signed in by autofill: {}",
        browser.body_text().await
    );
    browser.wait_for_new_page().await;
    assert!(browser.sso_cookie().await.is_some());
    let last_used = browser.text("#passkeys-table .passkey-last-used").await;
    assert_ne!(last_used.trim(), "-", "the last use is shown");

    // The assertion the browser posted, posted again, is refused.
    let posted = browser
        .eval("return sessionStorage.getItem('posted');")
        .await;
    let posted: Value = serde_json::from_str(posted.as_str().expect("the script posted")).unwrap();
    let credential: Value = serde_json::from_str(posted["credential"].as_str().unwrap()).unwrap();
    let (status, body) = app
        .post_json(
            "/api/auth/passkey/login",
            &json!({ "ceremonyId": posted["ceremony"], "credential": credential }),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["message"], "Invalid or expired passkey challenge");

    // The passkey as the second factor of a password sign-in, beside TOTP (turned on through
    // the API, with the token of before the passkey).
    let (status, body) = app.enable_2fa(&token).await;
    assert_eq!(status, 200, "{body}");
    let secret = url::Url::parse(body["otpauthUrl"].as_str().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned();
    let code = super::pages::totp(&secret, &app);
    assert_eq!(app.confirm_2fa(&token, &code).await.0, 200);
    browser.sign_out(&base).await;
    // No presence while the password is typed: the autofill's request waits (unanswered).
    browser
        .cdp(
            "WebAuthn.setAutomaticPresenceSimulation",
            json!({ "authenticatorId": authenticator, "enabled": false }),
        )
        .await;
    browser.sign_in(&base, "ada@example.com", PASSWORD).await;
    assert!(
        browser.has("#second-factor-form").await,
        "{}",
        browser.body_text().await
    );
    browser
        .cdp(
            "WebAuthn.setAutomaticPresenceSimulation",
            json!({ "authenticatorId": authenticator, "enabled": true }),
        )
        .await;
    browser.submit("#passkey-second-factor-form").await;
    assert_eq!(
        browser.path().await,
        format!("{UI}/account"),
        "{}",
        browser.body_text().await
    );

    // Remove it: gone from the page, and it signs no one in any more.
    let remove = browser.find(".remove-passkey-form button").await;
    browser.click_and_wait(remove).await;
    assert!(browser
        .body_text()
        .await
        .contains("The passkey was removed."));
    assert!(!browser.has("#passkeys-table").await);
    app.ctx.audit.flush().await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'sign_in.succeeded' AND detail LIKE $1",
            &["%passkey%"]
        )
        .await,
        2
    );

    // A page of another origin (the IP address: not within the RP id) gets no ceremony done.
    browser.sign_out(&base).await;
    assert!(!app.base.contains("localhost"), "{}", app.base);
    browser.goto(&format!("{}{UI}/login", app.base)).await;
    browser.check_page("login-passkeys").await;
    browser
        .find("#passkey-sign-in")
        .await
        .click()
        .await
        .unwrap();
    let shown = poll_for(200, std::time::Duration::from_millis(25), || async {
        let text = browser.text("#passkey-login-form .passkey-error").await;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(shown.is_some(), "the refusal is shown");
    assert_eq!(browser.path().await, format!("{UI}/login"));
    assert!(browser.sso_cookie().await.is_none());
    browser.close().await;
}
