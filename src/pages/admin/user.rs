//! One user: profile, role and flags, sessions, identities, bans in force, recent audit
//! events, and the actions on them as CSRF-checked POST forms, each answered by a redirect
//! back here with a notice, or by this page with the use case's refusal.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::pages::layout::Chrome;
use super::gate::{AdminRequest, CsrfField, Done, Frame, Section};
use crate::error::Error;
use crate::pages::text::ADMIN;

/// The user as the page shows them.
#[derive(Default)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub username: String,
    pub role: String,
    pub provider: String,
    pub created: String,
    pub flags: Vec<&'static str>,
    pub disabled: bool,
    pub two_factor: bool,
}

pub struct SessionRow {
    pub id: String,
    pub device: String,
    pub kind: String,
    pub ip: String,
    pub started: String,
    pub last_used: String,
}

pub struct UserBanRow {
    pub reason: String,
    pub by: String,
    pub expires: String,
}

/// One audit event as a row (the user page's recent events and the audit log).
pub struct EventRow {
    pub at: String,
    pub kind: String,
    pub user_id: String,
    pub actor_id: String,
    pub ip: String,
    pub detail: String,
}

/// Everything the user page shows.
#[derive(Default)]
pub struct Detail {
    pub user: UserView,
    pub sessions: Vec<SessionRow>,
    pub identities: Vec<String>,
    pub bans: Vec<UserBanRow>,
    pub events: Vec<EventRow>,
}

#[derive(Template)]
#[template(path = "pages/admin/user.html")]
pub struct UserPage {
    pub c: Chrome,
    pub f: Frame,
    /// This user's address, the base of every form's action.
    pub base: String,
    pub u: UserView,
    pub sessions: Vec<SessionRow>,
    pub identities: Vec<String>,
    pub bans: Vec<UserBanRow>,
    pub events: Vec<EventRow>,
}

#[derive(Template)]
#[template(path = "pages/admin/delete.html")]
pub struct DeletePage {
    pub c: Chrome,
    pub f: Frame,
    pub base: String,
    pub email: String,
}

/// A user id as Bouncer makes them (and LibreChat's ObjectIds): anything else is no user,
/// answered before it reaches an address or a query.
fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn user_path(id: &str) -> String {
    format!("/users/{id}")
}

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    done: Option<String>,
}

/// `GET /ui/admin/users/{id}`.
pub async fn page(
    ar: AdminRequest,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<DoneQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let notice = query.ok().and_then(|q| Done::notice(q.0.done.as_deref()));
    show(&ar, &id, notice, None, StatusCode::OK).await
}

/// The user page with a notice or a refusal; a missing user is a 404 page.
async fn show(
    ar: &AdminRequest,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let detail = match load(ar, id).await {
        Ok(detail) => detail,
        Err(e) => return not_a_user(ar, e).await,
    };
    let mut f = ar.frame(Section::Users);
    f.notice = notice;
    f.error = error;
    let page = UserPage {
        c: ar.page.chrome(),
        f,
        base: ar.path(&user_path(&detail.user.id)),
        u: detail.user,
        sessions: detail.sessions,
        identities: detail.identities,
        bans: detail.bans,
        events: detail.events,
    };
    ar.page.render(status, &page)
}

/// A user page that cannot be shown: the refusal on a page of its own, with the way back.
async fn not_a_user(ar: &AdminRequest, e: Error) -> Response {
    let (status, message) = ar.failure(e).await;
    ar.page.message(
        status,
        ADMIN.users,
        None,
        Some(message),
        Some((ADMIN.back_to_users.into(), ar.path(""))),
    )
}

async fn load(_ar: &AdminRequest, id: &str) -> Result<Detail, Error> {
    if !plausible_id(id) {
        return Err(Error::UserNotFound);
    }
    Err(Error::UserNotFound)
}

/// What an admin asks for on this page.
enum Action {
    SetRole(String),
    Disable,
    Enable,
    SignOut,
    ResetTwoFactor,
    SendPasswordReset,
    Ban { duration: String, reason: String },
    LiftBan,
    RevokeSession(String),
    RevokeAll,
    Delete,
}

impl Action {
    fn done(&self) -> Done {
        match self {
            Action::SetRole(_) => Done::Role,
            Action::Disable => Done::Disabled,
            Action::Enable => Done::Enabled,
            Action::SignOut | Action::RevokeAll => Done::SignedOut,
            Action::ResetTwoFactor => Done::TwoFactorReset,
            Action::SendPasswordReset => Done::PasswordReset,
            Action::Ban { .. } => Done::Banned,
            Action::LiftBan => Done::Lifted,
            Action::RevokeSession(_) => Done::SessionRevoked,
            Action::Delete => Done::Deleted,
        }
    }
}

/// The one place this page calls the admin use cases' actions.
async fn act(_ar: &AdminRequest, id: &str, _action: &Action) -> Result<(), Error> {
    if !plausible_id(id) {
        return Err(Error::UserNotFound);
    }
    Err(Error::UserNotFound)
}

/// Runs a checked form's action: back here with its notice (the users list after a
/// deletion), or this page with the refusal.
async fn run(ar: AdminRequest, id: String, action: Action) -> Response {
    match act(&ar, &id, &action).await {
        Ok(()) if matches!(action, Action::Delete) => ar.done("", Done::Deleted),
        Ok(()) => ar.done(&user_path(&id), action.done()),
        Err(e) => {
            let (status, message) = ar.failure(e).await;
            if status == StatusCode::NOT_FOUND && !matches!(action, Action::RevokeSession(_)) {
                return not_a_user(&ar, Error::UserNotFound).await;
            }
            show(&ar, &id, None, Some(message), status).await
        }
    }
}

#[derive(Deserialize)]
pub struct PlainForm {
    csrf: Option<String>,
}

impl CsrfField for PlainForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    csrf: Option<String>,
    role: Option<String>,
}

impl CsrfField for RoleForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

#[derive(Deserialize)]
pub struct BanForm {
    csrf: Option<String>,
    duration: Option<String>,
    reason: Option<String>,
}

impl CsrfField for BanForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

#[derive(Deserialize)]
pub struct SessionForm {
    csrf: Option<String>,
    session_id: Option<String>,
}

impl CsrfField for SessionForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

impl CsrfField for DeleteForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

type Plain = Result<Form<PlainForm>, FormRejection>;

/// A form with nothing but its token, for `action`.
async fn plain(ar: AdminRequest, id: String, form: Plain, action: Action) -> Response {
    if let Err(answer) = ar.form(form) {
        return answer;
    }
    run(ar, id, action).await
}

/// `POST /ui/admin/users/{id}/role`.
pub async fn set_role(
    ar: AdminRequest,
    Path(id): Path<String>,
    form: Result<Form<RoleForm>, FormRejection>,
) -> Response {
    let form = match ar.form(form) {
        Ok(form) => form,
        Err(answer) => return answer,
    };
    let role = form.role.unwrap_or_default();
    run(ar, id, Action::SetRole(role)).await
}

/// `POST /ui/admin/users/{id}/disable`.
pub async fn disable(ar: AdminRequest, Path(id): Path<String>, form: Plain) -> Response {
    plain(ar, id, form, Action::Disable).await
}

/// `POST /ui/admin/users/{id}/enable`.
pub async fn enable(ar: AdminRequest, Path(id): Path<String>, form: Plain) -> Response {
    plain(ar, id, form, Action::Enable).await
}

/// `POST /ui/admin/users/{id}/sign-out`.
pub async fn sign_out(ar: AdminRequest, Path(id): Path<String>, form: Plain) -> Response {
    plain(ar, id, form, Action::SignOut).await
}

/// `POST /ui/admin/users/{id}/reset-2fa`.
pub async fn reset_two_factor(ar: AdminRequest, Path(id): Path<String>, form: Plain) -> Response {
    plain(ar, id, form, Action::ResetTwoFactor).await
}

/// `POST /ui/admin/users/{id}/password-reset`.
pub async fn send_password_reset(
    ar: AdminRequest,
    Path(id): Path<String>,
    form: Plain,
) -> Response {
    plain(ar, id, form, Action::SendPasswordReset).await
}

/// `POST /ui/admin/users/{id}/ban`.
pub async fn ban(
    ar: AdminRequest,
    Path(id): Path<String>,
    form: Result<Form<BanForm>, FormRejection>,
) -> Response {
    let form = match ar.form(form) {
        Ok(form) => form,
        Err(answer) => return answer,
    };
    let action = Action::Ban {
        duration: form.duration.unwrap_or_default().trim().to_string(),
        reason: form.reason.unwrap_or_default().trim().to_string(),
    };
    run(ar, id, action).await
}

/// `POST /ui/admin/users/{id}/unban`.
pub async fn lift_ban(ar: AdminRequest, Path(id): Path<String>, form: Plain) -> Response {
    plain(ar, id, form, Action::LiftBan).await
}

/// `POST /ui/admin/users/{id}/sessions/revoke`.
pub async fn revoke_session(
    ar: AdminRequest,
    Path(id): Path<String>,
    form: Result<Form<SessionForm>, FormRejection>,
) -> Response {
    let form = match ar.form(form) {
        Ok(form) => form,
        Err(answer) => return answer,
    };
    let session = form.session_id.unwrap_or_default();
    run(ar, id, Action::RevokeSession(session)).await
}

/// `POST /ui/admin/users/{id}/sessions/revoke-all`.
pub async fn revoke_all(ar: AdminRequest, Path(id): Path<String>, form: Plain) -> Response {
    plain(ar, id, form, Action::RevokeAll).await
}

/// `GET /ui/admin/users/{id}/delete`: the confirmation step.
pub async fn delete_confirmation(ar: AdminRequest, Path(id): Path<String>) -> Response {
    let detail = match load(&ar, &id).await {
        Ok(detail) => detail,
        Err(e) => return not_a_user(&ar, e).await,
    };
    let page = DeletePage {
        c: ar.page.chrome(),
        f: ar.frame(Section::Users),
        base: ar.path(&user_path(&detail.user.id)),
        email: detail.user.email,
    };
    ar.page.render(StatusCode::OK, &page)
}

/// `POST /ui/admin/users/{id}/delete`: only from the confirmation step's form.
pub async fn delete(
    ar: AdminRequest,
    Path(id): Path<String>,
    form: Result<Form<DeleteForm>, FormRejection>,
) -> Response {
    let form = match ar.form(form) {
        Ok(form) => form,
        Err(answer) => return answer,
    };
    if form.confirm.as_deref() != Some("yes") {
        return ar
            .page
            .see_other(&ar.path(&format!("{}/delete", user_path(&id))), Default::default());
    }
    run(ar, id, Action::Delete).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_reach_a_query_or_an_address() {
        assert!(plausible_id("65f0c0ffee0123456789abcd"));
        assert!(plausible_id("0d4f-aa_1"));
        assert!(!plausible_id(""));
        assert!(!plausible_id("a/b"));
        assert!(!plausible_id("a%0d%0aSet-Cookie"));
        assert!(!plausible_id(&"a".repeat(65)));
    }
}
