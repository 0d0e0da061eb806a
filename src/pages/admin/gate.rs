//! Who may open the console: a browser session (the single-sign-on cookie) whose account has
//! the ADMIN role now (`usecases::admin::authorize` reads it from the account, not the
//! token). Without a session the browser is sent to sign in and back; anyone else gets a 403
//! page. Also what every console page shares: its frame, its forms' CSRF check, its notices.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use crate::app::AppContext;
use crate::error::Error;
use crate::pages::errors::failure;
use crate::pages::layout::PageRequest;
use crate::pages::text::{AdminText, ADMIN, EN};
use crate::usecases::admin::{self, Actor, Admin};

/// A console request from an admin.
pub struct AdminRequest {
    pub page: PageRequest,
    pub admin: Admin,
}

impl FromRequestParts<Arc<AppContext>> for AdminRequest {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<AppContext>,
    ) -> Result<Self, Self::Rejection> {
        let page = match PageRequest::from_request_parts(parts, ctx).await {
            Ok(page) => page,
            Err(never) => match never {},
        };
        let Some(claims) = page.session.clone() else {
            return Err(to_sign_in(&page, parts));
        };
        // A session confined to setting up 2FA (`REQUIRE_2FA`) holds no other power.
        if claims.scope.is_some() {
            return Err(refused(&page, Error::TwoFactorSetupRequired).await);
        }
        match admin::authorize(ctx, &page.client, &claims).await {
            Ok(admin) => Ok(Self { page, admin }),
            Err(e) => Err(refused(&page, e).await),
        }
    }
}

/// The sign-in page, with this console address to come back to. A form's address is not
/// one to come back to (it takes a POST): the console's front page is.
fn to_sign_in(page: &PageRequest, parts: &Parts) -> Response {
    let here = match parts.uri.path_and_query().map(|p| p.as_str()) {
        Some(rest) if parts.method == Method::GET && rest != "/" => rest.to_string(),
        _ => String::new(),
    };
    let back = page.path(&format!("/admin{here}"));
    let rd = url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>();
    page.see_other(
        &format!("{}?rd={rd}", page.path("/login")),
        HeaderMap::new(),
    )
}

/// A caller who may not use the console: the refusal's own status and words (403
/// "Forbidden" for a non-admin), on a page of its own.
async fn refused(page: &PageRequest, e: Error) -> Response {
    let f = failure(page, e).await;
    page.message(
        f.status,
        ADMIN.forbidden,
        None,
        Some(f.message),
        Some((EN.account_heading.into(), page.path("/account"))),
    )
}

/// The console's sections, for the navigation's current mark.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Users,
    Bans,
    Audit,
    Settings,
}

/// The frame of every console page (beside the pages' `Chrome`): the console's words, the
/// navigation, the notice or refusal.
pub struct Frame {
    pub a: &'static AdminText,
    pub section: Section,
    /// The console's root, `/ui/admin`.
    pub root: String,
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl Frame {
    pub fn is(&self, section: Section) -> bool {
        self.section == section
    }
}

/// What a form sends besides its fields: the CSRF token.
pub trait CsrfField {
    fn csrf(&self) -> Option<&str>;
}

impl AdminRequest {
    pub fn frame(&self, section: Section) -> Frame {
        Frame {
            a: &ADMIN,
            section,
            root: self.page.path("/admin"),
            notice: None,
            error: None,
        }
    }

    /// The admin as the use cases take them.
    pub fn actor(&self) -> Actor {
        Actor::Admin(self.admin.clone())
    }

    /// A path under the console's root.
    pub fn path(&self, rest: &str) -> String {
        self.page.path(&format!("/admin{rest}"))
    }

    /// The submitted form, if it is well formed and carries this browser's CSRF token; else
    /// the answer to send (403 for the token, 400 for a form that does not parse).
    #[allow(clippy::result_large_err)]
    pub fn form<T: CsrfField>(&self, form: Result<Form<T>, FormRejection>) -> Result<T, Response> {
        let form = match form {
            Ok(Form(form)) => form,
            Err(_) => return Err(self.page.form_expired()),
        };
        if !self.page.csrf_ok(form.csrf()) {
            return Err(self.page.form_expired());
        }
        Ok(form)
    }

    /// POST-redirect-GET: back to `rest` (under the console) with the notice `done`.
    pub fn done(&self, rest: &str, done: Done) -> Response {
        let sep = if rest.contains('?') { '&' } else { '?' };
        self.page.see_other(
            &self.path(&format!("{rest}{sep}done={}", done.key())),
            HeaderMap::new(),
        )
    }

    /// A use case's refusal: its status and message.
    pub async fn failure(&self, e: Error) -> (StatusCode, String) {
        let f = failure(&self.page, e).await;
        (f.status, f.message)
    }
}

/// What an action did, named in the address it redirects to (`?done=banned`): only these
/// keys are shown, each with its own fixed words, so an address cannot put words on a page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Done {
    Role,
    Disabled,
    Enabled,
    SignedOut,
    TwoFactorReset,
    PasswordReset,
    Banned,
    Lifted,
    Deleted,
    SessionRevoked,
}

impl Done {
    const ALL: [Done; 10] = [
        Done::Role,
        Done::Disabled,
        Done::Enabled,
        Done::SignedOut,
        Done::TwoFactorReset,
        Done::PasswordReset,
        Done::Banned,
        Done::Lifted,
        Done::Deleted,
        Done::SessionRevoked,
    ];

    fn key(self) -> &'static str {
        match self {
            Done::Role => "role",
            Done::Disabled => "disabled",
            Done::Enabled => "enabled",
            Done::SignedOut => "signed-out",
            Done::TwoFactorReset => "2fa-reset",
            Done::PasswordReset => "password-reset",
            Done::Banned => "banned",
            Done::Lifted => "lifted",
            Done::Deleted => "deleted",
            Done::SessionRevoked => "session-revoked",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Done::Role => ADMIN.done_role,
            Done::Disabled => ADMIN.done_disabled,
            Done::Enabled => ADMIN.done_enabled,
            Done::SignedOut => ADMIN.done_signed_out,
            Done::TwoFactorReset => ADMIN.done_two_factor_reset,
            Done::PasswordReset => ADMIN.done_password_reset,
            Done::Banned => ADMIN.done_banned,
            Done::Lifted => ADMIN.done_lifted,
            Done::Deleted => ADMIN.done_deleted,
            Done::SessionRevoked => ADMIN.done_session_revoked,
        }
    }

    /// The notice for a `done` query value, if it is one of ours.
    pub fn notice(key: Option<&str>) -> Option<String> {
        let key = key?;
        Done::ALL
            .into_iter()
            .find(|d| d.key() == key)
            .map(|d| d.words().to_string())
    }
}

/// A time for a person: `2026-12-03 17:05 UTC`, or `-`.
pub fn when(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "-".into();
    };
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notice_key_reads_back_as_its_own_words() {
        for done in Done::ALL {
            assert_eq!(
                Done::notice(Some(done.key())).as_deref(),
                Some(done.words())
            );
        }
        assert_eq!(Done::notice(Some("<script>")), None);
        assert_eq!(Done::notice(None), None);
    }

    #[test]
    fn times_read_in_utc() {
        assert_eq!(when(Some(0)), "1970-01-01 00:00 UTC");
        assert_eq!(when(None), "-");
    }
}
