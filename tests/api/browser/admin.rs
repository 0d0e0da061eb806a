//! The admin console walked in a real Chromium: an admin signs in (sent there by the
//! console, and back), searches a user, bans them — the user's open API session is refused
//! within about a second — lifts the ban, disables and enables them, revokes a session; every
//! console page is checked by axe (light and dark) and photographed, also at a phone's width.

use std::time::Duration;

use super::harness::Browser;
use super::pages::{runs_in_this_pass, UI};
use crate::helpers::*;

const ADMIN_EMAIL: &str = "root@example.com";
const USER_EMAIL: &str = "ada@example.com";

/// Whether `token` is refused by the API within about a second: a ban or a revocation takes
/// effect in memory, so this is a bound on a wait, not a measured time.
async fn refused_soon(app: &TestApp, token: &str) -> bool {
    poll_for(20, Duration::from_millis(50), || async {
        (app.get_user(token).await.status() != 200).then_some(())
    })
    .await
    .is_some()
}

#[tokio::test]
async fn an_admin_bans_lifts_disables_and_revokes_from_the_console_in_a_browser() {
    let test = "an_admin_bans_lifts_disables_and_revokes_from_the_console_in_a_browser";
    if !runs_in_this_pass(test, true) {
        return;
    }
    let Some(browser) = Browser::open(test).await else {
        return;
    };
    let app = spawn_app_at_own_origin(&[]).await;
    app.signed_in_user(ADMIN_EMAIL).await; // the first user is ADMIN
    let ada = app.signed_in_user(USER_EMAIL).await;

    // Signed out, the console sends the browser to sign in, and back to it.
    browser.goto(&app.url(&format!("{UI}/admin"))).await;
    assert_eq!(browser.path().await, format!("{UI}/login"));
    browser.send_login_form(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(browser.path().await, format!("{UI}/admin"));
    browser.check_page("admin-users").await;

    // Search the user and open their page.
    browser.fill("search", "ada").await;
    browser.submit("#user-search-form").await;
    let rows = browser.find_all("#users-table tbody tr").await;
    assert_eq!(rows.len(), 1, "{}", browser.body_text().await);
    browser
        .click_and_wait(browser.find("#users-table a.user-link").await)
        .await;
    assert_eq!(
        browser.path().await,
        format!("{UI}/admin/users/{}", ada.user_id)
    );
    browser.check_page("admin-user").await;

    // Ban for an hour with a reason: her open API session is refused.
    browser.fill("ban-duration", "1h").await;
    browser.fill("ban-reason", "spam links").await;
    browser.submit("#ban-form").await;
    assert_eq!(browser.text("#notice").await, "The ban is in force.");
    assert!(browser
        .text("#user-bans-table")
        .await
        .contains("spam links"));
    assert!(
        refused_soon(&app, &ada.token).await,
        "the banned user's token is refused"
    );
    assert_eq!(app.login(USER_EMAIL, PASSWORD).await.status(), 403);

    // Lift it: she signs in again.
    browser.submit("form.lift-ban-form").await;
    assert_eq!(browser.text("#notice").await, "The ban was lifted.");
    let again = app.signed_in_user_again(USER_EMAIL).await;

    // Disable: refused at once, her sign-in too; enable restores it.
    browser.submit("#disable-form").await;
    assert_eq!(
        browser.text("#notice").await,
        "The user was disabled and signed out everywhere."
    );
    assert!(refused_soon(&app, &again.token).await);
    assert_eq!(app.login(USER_EMAIL, PASSWORD).await.status(), 403);
    browser.submit("#enable-form").await;
    assert_eq!(browser.text("#notice").await, "The user was enabled.");

    // Revoke one session of two: that token is refused, the other still works.
    let first = app.signed_in_user_again(USER_EMAIL).await;
    let second = app.signed_in_user_again(USER_EMAIL).await;
    browser
        .goto(&app.url(&format!("{UI}/admin/users/{}", ada.user_id)))
        .await;
    let sid = jwt_payload(&first.token)["sid"]
        .as_str()
        .unwrap()
        .to_string();
    browser
        .submit(&format!(
            "tr[data-session-id='{sid}'] form.revoke-session-form"
        ))
        .await;
    assert_eq!(browser.text("#notice").await, "The session was revoked.");
    assert!(refused_soon(&app, &first.token).await);
    assert_eq!(app.get_user(&second.token).await.status(), 200);
    browser.check_page("admin-user-after").await;

    // The other console pages, as a person sees them.
    browser
        .click_and_wait(browser.find("#delete-link").await)
        .await;
    assert!(browser.has("#delete-form").await);
    browser.check_page("admin-delete").await;
    for (page, name) in [
        ("/bans", "admin-bans"),
        ("/audit", "admin-audit"),
        ("/settings", "admin-settings"),
    ] {
        browser.goto(&app.url(&format!("{UI}/admin{page}"))).await;
        assert!(browser.has(".admin-nav").await, "{page}");
        browser.check_page(name).await;
    }

    // On a phone's width the pages fit: wide tables scroll inside their box, not the page.
    browser.client.set_window_size(390, 844).await.unwrap();
    for (page, name) in [
        (String::new(), "admin-users-phone"),
        (format!("/users/{}", ada.user_id), "admin-user-phone"),
        ("/audit".to_string(), "admin-audit-phone"),
    ] {
        browser.goto(&app.url(&format!("{UI}/admin{page}"))).await;
        let overflow = browser
            .eval("return document.documentElement.scrollWidth - window.innerWidth;")
            .await;
        assert!(
            overflow.as_i64().is_some_and(|px| px <= 0),
            "{name} is wider than the screen by {overflow}px"
        );
        browser.check_page(name).await;
    }
    browser.close().await;
}
