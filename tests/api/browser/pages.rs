//! What the walks share: the sign-in pages' paths, signing in through the form, codes from an
//! enrolled secret, and which CI pass runs a walk.

use std::io::Write;

use bouncer::clock::Clock;
use totp_rs::{Algorithm, Secret, TOTP};

use super::harness::Browser;
use crate::helpers::TestApp;

/// `PAGES_PREFIX`'s default.
pub const UI: &str = "/ui";

/// The page error for a wrong email or password (the pages' text; the brief had LibreChat's
/// "Email or password is incorrect").
pub const WRONG_CREDENTIALS: &str = "Incorrect email or password.";

/// Whether this pass runs the browser walk `test`: every walk runs in the SQLite pass; the
/// PostgreSQL pass (`BOUNCER_TEST_POSTGRES_URL` set) runs only the walks marked `both`, the
/// browser being the same whatever the store (a `SKIPPED` line for the others).
pub fn runs_in_this_pass(test: &str, both: bool) -> bool {
    if both || std::env::var_os("BOUNCER_TEST_POSTGRES_URL").is_none() {
        return true;
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: a browser walk of the SQLite pass (unset BOUNCER_TEST_POSTGRES_URL to run it)"
    );
    false
}

/// The code an authenticator app shows for this Base32 secret (as a page shows it: spaces
/// and case do not matter) at the app's manual-clock time.
pub fn totp(secret: &str, app: &TestApp) -> String {
    let secret: String = secret
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_uppercase();
    let bytes = Secret::Encoded(secret.clone())
        .to_bytes()
        .unwrap_or_else(|e| panic!("the page's secret {secret:?} is Base32: {e:?}"));
    TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, bytes)
        .generate((app.clock.now_ms() / 1000) as u64)
}

impl Browser {
    /// Fills and sends the sign-in form of the page the browser is on.
    pub async fn send_login_form(&self, email: &str, password: &str) {
        self.fill("email", email).await;
        self.fill("password", password).await;
        self.submit("#login-form").await;
    }

    /// Opens `{base}/ui/login` and signs in with the form.
    pub async fn sign_in(&self, base: &str, email: &str, password: &str) {
        self.goto(&format!("{base}{UI}/login")).await;
        self.send_login_form(email, password).await;
    }

    /// Opens the sign-out page and confirms.
    pub async fn sign_out(&self, base: &str) {
        self.goto(&format!("{base}{UI}/logout")).await;
        self.submit("#logout-form").await;
        assert!(self.has("#notice").await, "{}", self.body_text().await);
    }

    /// The errors the page shows: the page-level alert and the fields' errors, by id, those
    /// with text only.
    pub async fn errors_shown(&self) -> Vec<(String, String)> {
        let mut shown = Vec::new();
        for element in self.find_all("#form-error, [id$='-error']").await {
            let text = element.text().await.unwrap().trim().to_string();
            if !text.is_empty() {
                shown.push((element.attr("id").await.unwrap().unwrap_or_default(), text));
            }
        }
        shown
    }

    /// The path of the page the browser is on.
    pub async fn path(&self) -> String {
        self.url().await.path().to_string()
    }

    /// The single-sign-on cookie, if the browser holds one for the current page's host.
    pub async fn sso_cookie(&self) -> Option<fantoccini::cookies::Cookie<'static>> {
        self.cookies()
            .await
            .into_iter()
            .find(|c| c.name() == "bouncer_session")
    }
}
