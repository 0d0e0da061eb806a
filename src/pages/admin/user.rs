//! One user: profile, role and flags, sessions, identities, bans in force, recent audit
//! events, and the actions on them as CSRF-checked POST forms, each answered by a redirect
//! back here with a notice, or by this page with the use case's refusal.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::gate::{when, AdminRequest, CsrfField, Done, Frame, Section};
use super::users::flags;
use crate::error::Error;
use crate::pages::account::describe_device;
use crate::pages::layout::Chrome;
use crate::pages::text::{ADMIN, EN};
use crate::store::sessions::SessionSummary;
use crate::store::users::Role;
use crate::usecases::admin::{self, BanTarget, NewBan};
use crate::usecases::audit::{self, AuditQuery, AuditRecord};

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
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
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

/// How many of the user's latest events the page shows.
const RECENT_EVENTS: i64 = 20;

async fn load(ar: &AdminRequest, id: &str) -> Result<Detail, Error> {
    if !plausible_id(id) {
        return Err(Error::UserNotFound);
    }
    let ctx = &ar.page.ctx;
    let detail = admin::user_detail(ctx, &ar.actor(), id).await?;
    let query = AuditQuery {
        user_id: Some(detail.user.id.clone()),
        limit: RECENT_EVENTS,
        ..AuditQuery::default()
    };
    let events = audit::list(ctx, &ar.admin, &query).await?;
    let u = &detail.user;
    let user = UserView {
        id: u.id.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
        username: u.username.clone(),
        role: u.role.clone(),
        provider: u.provider.clone(),
        created: when(Some(u.created_at)),
        flags: flags(u),
        disabled: u.disabled_at.is_some(),
        two_factor: u.two_factor_enabled,
    };
    Ok(Detail {
        user,
        sessions: detail.sessions.into_iter().map(session_row).collect(),
        identities: detail
            .identities
            .into_iter()
            .map(|i| {
                if i.issuer.is_empty() {
                    format!("{}: {}", i.provider, i.subject)
                } else {
                    format!("{} ({}): {}", i.provider, i.issuer, i.subject)
                }
            })
            .collect(),
        bans: detail
            .bans
            .into_iter()
            .map(|b| UserBanRow {
                reason: b.reason.unwrap_or(b.violation_type),
                by: b.created_by.unwrap_or_else(|| ADMIN.automatic.into()),
                expires: when(Some(b.expires_at)),
            })
            .collect(),
        events: events.events.iter().map(event_row).collect(),
    })
}

fn session_row(s: SessionSummary) -> SessionRow {
    SessionRow {
        device: describe_device(s.user_agent.as_deref()),
        kind: match (s.kind.as_str(), s.client_id.as_deref()) {
            (crate::store::sessions::BROWSER, _) => EN.session_kind_browser.to_string(),
            (crate::store::sessions::PROVIDER, Some(client)) => {
                format!("{}: {client}", EN.session_kind_provider)
            }
            _ => EN.session_kind_api.to_string(),
        },
        ip: s.ip.unwrap_or_else(|| "-".into()),
        started: when(Some(s.created_at)),
        last_used: when(s.last_used_at),
        id: s.id,
    }
}

/// An audit event as a row of the tables.
pub fn event_row(e: &AuditRecord) -> EventRow {
    EventRow {
        at: when(Some(e.at_ms)),
        kind: e.kind.clone(),
        user_id: e.user_id.clone().unwrap_or_default(),
        actor_id: e.actor_id.clone().unwrap_or_default(),
        ip: e.ip.clone().unwrap_or_default(),
        detail: match &e.detail {
            serde_json::Value::Object(map) if map.is_empty() => String::new(),
            other => other.to_string(),
        },
    }
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
async fn act(ar: &AdminRequest, id: &str, action: &Action) -> Result<(), Error> {
    if !plausible_id(id) {
        return Err(Error::UserNotFound);
    }
    let ctx = &ar.page.ctx;
    let by = ar.actor();
    match action {
        Action::SetRole(role) => {
            let role = match role.as_str() {
                "ADMIN" => Role::Admin,
                "USER" => Role::User,
                _ => return Err(Error::BadRequest("role: must be ADMIN or USER".into())),
            };
            admin::set_role(ctx, &by, id, role).await.map(drop)
        }
        Action::Disable => admin::disable(ctx, &by, id).await.map(drop),
        Action::Enable => admin::enable(ctx, &by, id).await.map(drop),
        Action::SignOut | Action::RevokeAll => {
            admin::sign_out_everywhere(ctx, &by, id).await.map(drop)
        }
        Action::ResetTwoFactor => admin::reset_two_factor(ctx, &by, id).await.map(drop),
        Action::SendPasswordReset => admin::send_password_reset(ctx, &by, id).await,
        Action::Ban { duration, reason } => {
            let duration_ms = admin::parse_duration(duration)?;
            let ban = NewBan {
                target: BanTarget::User(id.to_string()),
                duration_ms,
                reason: (!reason.is_empty()).then(|| reason.clone()),
            };
            admin::ban(ctx, &by, ban).await.map(drop)
        }
        Action::LiftBan => admin::lift(ctx, &by, BanTarget::User(id.to_string()))
            .await
            .map(drop),
        Action::RevokeSession(session) => admin::revoke_session(ctx, &by, id, session).await,
        Action::Delete => admin::delete_user(ctx, &by, id).await.map(drop),
    }
}

/// Runs a checked form's action: back here with its notice (the users list after a
/// deletion), or this page with the refusal.
async fn run(ar: AdminRequest, id: String, action: Action) -> Response {
    match act(&ar, &id, &action).await {
        Ok(()) if matches!(action, Action::Delete) => ar.done("", Done::Deleted),
        Ok(()) => ar.done(&user_path(&id), action.done()),
        // No such user: nothing to show the refusal on.
        Err(Error::UserNotFound) => not_a_user(&ar, Error::UserNotFound).await,
        Err(e) => {
            let (status, message) = ar.failure(e).await;
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
        return ar.page.see_other(
            &ar.path(&format!("{}/delete", user_path(&id))),
            Default::default(),
        );
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
        assert!(!plausible_id(&"a".repeat(129)));
    }
}
