//! What an operator does to users: find them (search, filters, sort, keyset pages), look at
//! one, create, change the role, disable and enable, sign out everywhere, reset 2FA, mail a
//! password reset, delete; and a user's sessions. None may leave the system without an enabled
//! ADMIN (`Conflict`), an admin acting on themselves included.

use std::net::{IpAddr, Ipv4Addr};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use super::admin::Actor;
use super::notices::{self, Invitation};
use super::operator::{self, NewUser};
use crate::accounts::{Email, LAST_ADMIN};
use crate::app::AppContext;
use crate::audit::Kind;
use crate::error::{Error, Result};
use crate::store::bans::NotedBan;
use crate::store::identities::BoundIdentity;
use crate::store::sessions::SessionSummary;
use crate::store::users::{ListQuery, Role, SortColumn, SortValue, User};

/// The most users one page holds, and how many when the caller does not say.
pub const PAGE_MAX: i64 = 200;
pub const PAGE_DEFAULT: i64 = 50;
/// Longer than any id Bouncer stores (24 hex characters, or an imported id).
const ID_MAX: usize = 128;
/// The longest search text taken.
const SEARCH_MAX: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserSort {
    #[default]
    CreatedAt,
    Email,
    Name,
    Username,
}

impl UserSort {
    /// `created_at` (also `createdAt`), `email`, `name`, `username`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "created_at" | "createdAt" => UserSort::CreatedAt,
            "email" => UserSort::Email,
            "name" => UserSort::Name,
            "username" => UserSort::Username,
            _ => return None,
        })
    }

    fn column(self) -> SortColumn {
        match self {
            UserSort::CreatedAt => SortColumn::CreatedAt,
            UserSort::Email => SortColumn::Email,
            UserSort::Name => SortColumn::Name,
            UserSort::Username => SortColumn::Username,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

impl Order {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "asc" => Some(Order::Asc),
            "desc" => Some(Order::Desc),
            _ => None,
        }
    }
}

/// What the user list asks for. `None` filters do not filter.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// A case-insensitive substring of the email, name or username.
    pub search: Option<String>,
    pub role: Option<String>,
    pub provider: Option<String>,
    pub two_factor: Option<bool>,
    pub banned: Option<bool>,
    pub unverified: Option<bool>,
    pub disabled: Option<bool>,
    pub sort: UserSort,
    pub order: Order,
    /// The `next` of the previous page (made for the same sort and order).
    pub cursor: Option<String>,
    /// 1..=200; `None`: 50.
    pub limit: Option<i64>,
}

/// A user as the admin list and detail show them (never a password hash or a 2FA secret).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: String,
    pub email: String,
    pub name: String,
    pub username: String,
    pub provider: String,
    pub role: String,
    pub email_verified: bool,
    pub two_factor_enabled: bool,
    /// Times are milliseconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
    pub disabled_at: Option<i64>,
    /// When the ban in force on the user ends.
    pub banned_until: Option<i64>,
}

impl UserSummary {
    fn of(ctx: &AppContext, user: &User) -> Self {
        Self {
            id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            username: user.username.clone(),
            provider: user.provider.as_str().to_string(),
            role: user.role.as_str().to_string(),
            email_verified: user.email_verified,
            two_factor_enabled: user.two_factor_enabled,
            created_at: user.created_at,
            updated_at: user.updated_at,
            disabled_at: user.disabled_at,
            banned_until: banned_until(ctx, &user.id),
        }
    }
}

/// When the ban in force on the user ends (memory only).
fn banned_until(ctx: &AppContext, user_id: &str) -> Option<i64> {
    match ctx
        .moderation
        .check(IpAddr::V4(Ipv4Addr::UNSPECIFIED), Some(user_id))
    {
        Err(Error::Banned { until_ms, .. }) => Some(until_ms),
        _ => None,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UserPage {
    pub users: Vec<UserSummary>,
    /// The cursor of the next page; `None` on the last.
    pub next: Option<String>,
}

/// The position after a page's last user, for the same sort and order only.
#[derive(serde::Serialize, serde::Deserialize)]
struct Cursor {
    s: String,
    o: String,
    /// The sort value: a number for `created_at`, else text.
    n: Option<i64>,
    t: Option<String>,
    id: String,
}

fn sort_name(sort: UserSort) -> &'static str {
    sort.column().as_str()
}

fn order_name(order: Order) -> &'static str {
    match order {
        Order::Asc => "asc",
        Order::Desc => "desc",
    }
}

fn encode_cursor(q: &UserQuery, last: &User) -> String {
    let (n, t) = match q.sort {
        UserSort::CreatedAt => (Some(last.created_at), None),
        UserSort::Email => (None, Some(last.email.clone())),
        UserSort::Name => (None, Some(last.name.clone())),
        UserSort::Username => (None, Some(last.username.clone())),
    };
    let cursor = Cursor {
        s: sort_name(q.sort).into(),
        o: order_name(q.order).into(),
        n,
        t,
        id: last.id.clone(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

fn decode_cursor(q: &UserQuery, text: &str) -> Result<(SortValue, String)> {
    let bad = || Error::BadRequest("cursor: not a cursor of this list".into());
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if cursor.s != sort_name(q.sort) || cursor.o != order_name(q.order) {
        return Err(Error::BadRequest(
            "cursor: made for another sort or order".into(),
        ));
    }
    let value = match (q.sort, cursor.n, cursor.t) {
        (UserSort::CreatedAt, Some(n), None) => SortValue::Int(n),
        (UserSort::CreatedAt, _, _) => return Err(bad()),
        (_, None, Some(t)) => SortValue::Text(t),
        _ => return Err(bad()),
    };
    Ok((value, cursor.id))
}

/// One page of users.
pub async fn list_users(ctx: &AppContext, _by: &Actor, q: &UserQuery) -> Result<UserPage> {
    let limit = q.limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(Error::BadRequest(format!(
            "limit: must be between 1 and {PAGE_MAX}"
        )));
    }
    let search = q
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    if search
        .as_ref()
        .is_some_and(|s| s.chars().count() > SEARCH_MAX)
    {
        return Err(Error::BadRequest(format!(
            "search: at most {SEARCH_MAX} characters"
        )));
    }
    let after = match q.cursor.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(text) => Some(decode_cursor(q, text)?),
        None => None,
    };
    let query = ListQuery {
        search,
        role: q.role.clone(),
        provider: q.provider.clone(),
        two_factor: q.two_factor,
        banned: q.banned,
        unverified: q.unverified,
        disabled: q.disabled,
        sort: q.sort.column(),
        descending: q.order == Order::Desc,
        after,
        // One more than asked tells whether a next page exists.
        limit: limit + 1,
        now_ms: ctx.clock.now_ms(),
    };
    let mut users = crate::store::users::list_page(&ctx.db, &query).await?;
    let more = users.len() as i64 > limit;
    users.truncate(limit as usize);
    let next = match users.last() {
        Some(last) if more => Some(encode_cursor(q, last)),
        _ => None,
    };
    Ok(UserPage {
        users: users.iter().map(|u| UserSummary::of(ctx, u)).collect(),
        next,
    })
}

/// A user with their sessions, identities and the bans in force on them.
#[derive(Debug, Clone)]
pub struct UserDetail {
    pub user: UserSummary,
    pub sessions: Vec<SessionSummary>,
    pub identities: Vec<BoundIdentity>,
    pub bans: Vec<NotedBan>,
}

/// The user with this id, or `UserNotFound` (read from the database: an operator looks at the
/// state as it is).
pub async fn find(ctx: &AppContext, id: &str) -> Result<User> {
    // No stored id is long or holds a NUL (which PostgreSQL would refuse with an error).
    if id.len() > ID_MAX || id.contains('\0') {
        return Err(Error::UserNotFound);
    }
    crate::store::users::find_by_id(&ctx.db, id)
        .await?
        .ok_or(Error::UserNotFound)
}

pub async fn user_detail(ctx: &AppContext, _by: &Actor, id: &str) -> Result<UserDetail> {
    let user = find(ctx, id).await?;
    let sessions = ctx.sessions.list(&user.id).await?;
    let identities = crate::store::identities::list_for_user(&ctx.db, &user.id).await?;
    let bans = crate::store::bans::active_noted(&ctx.db, ctx.clock.now_ms())
        .await?
        .into_iter()
        .filter(|b| b.kind == "user" && b.subject == user.id)
        .collect();
    Ok(UserDetail {
        user: UserSummary::of(ctx, &user),
        sessions,
        identities,
        bans,
    })
}

/// An account an admin creates.
#[derive(Debug, Clone)]
pub struct AdminNewUser {
    pub email: String,
    pub name: String,
    pub username: String,
    /// `None`: an invitation is mailed instead, and the person registers themselves.
    pub password: Option<String>,
    pub role: Role,
    pub email_verified: bool,
}

pub enum Created {
    User {
        user: UserSummary,
        /// The verification mail's outcome, when one was sent.
        verification_mail: Option<anyhow::Result<()>>,
    },
    /// No password was given: invited instead.
    Invited(Invitation),
}

/// Creates an account under `bouncer create-user`'s rules, or invites the email when no
/// password is given (as `bouncer invite-user`).
pub async fn create_user(ctx: &AppContext, by: &Actor, new: AdminNewUser) -> Result<Created> {
    if !matches!(new.role, Role::Admin | Role::User) {
        return Err(Error::BadRequest("role: must be ADMIN or USER".into()));
    }
    let Some(password) = new.password else {
        let Some(email) = Email::parse(&new.email) else {
            return Err(Error::BadRequest("email: Invalid email".into()));
        };
        operator::check_available(ctx, email.as_str(), "").await?;
        let invitation = notices::invite(ctx, &email).await?;
        by.record(
            ctx,
            by.event(Kind::UserCreated, None)
                .detail("invited", email.as_str()),
        );
        return Ok(Created::Invited(invitation));
    };
    let created = operator::create_user_as(
        ctx,
        by,
        NewUser {
            email: new.email,
            name: new.name,
            username: new.username,
            password,
            email_verified: new.email_verified,
            role: Some(new.role),
        },
    )
    .await?;
    Ok(Created::User {
        user: UserSummary::of(ctx, &created.user),
        verification_mail: created.verification_mail,
    })
}

/// Makes a user ADMIN or USER.
pub async fn set_role(ctx: &AppContext, by: &Actor, id: &str, role: Role) -> Result<UserSummary> {
    if !matches!(role, Role::Admin | Role::User) {
        return Err(Error::BadRequest("role: must be ADMIN or USER".into()));
    }
    let before = find(ctx, id).await?;
    if before.role != role {
        ctx.accounts.set_role(id, &role).await?;
        by.record(
            ctx,
            by.event(Kind::RoleChanged, Some(id))
                .detail("from", before.role.as_str())
                .detail("to", role.as_str()),
        );
    }
    Ok(UserSummary::of(ctx, &find(ctx, id).await?))
}

/// Disables a user: no sign-in by any route, every session ends at once, every token refused.
pub async fn disable(ctx: &AppContext, by: &Actor, id: &str) -> Result<UserSummary> {
    let before = find(ctx, id).await?;
    if before.disabled_at.is_none() {
        let sessions = ctx.accounts.disable(id).await?;
        // Other instances refuse the user at their next read of the disabled set.
        ctx.changes.announce();
        by.record(
            ctx,
            by.event(Kind::UserDisabled, Some(id))
                .detail("sessions", sessions),
        );
    }
    Ok(UserSummary::of(ctx, &find(ctx, id).await?))
}

pub async fn enable(ctx: &AppContext, by: &Actor, id: &str) -> Result<UserSummary> {
    let before = find(ctx, id).await?;
    if before.disabled_at.is_some() {
        ctx.accounts.enable(id).await?;
        ctx.changes.announce();
        by.record(ctx, by.event(Kind::UserEnabled, Some(id)));
    }
    Ok(UserSummary::of(ctx, &find(ctx, id).await?))
}

/// Ends every session of the user. Returns how many.
pub async fn sign_out_everywhere(ctx: &AppContext, by: &Actor, id: &str) -> Result<usize> {
    let user = find(ctx, id).await?;
    let n = ctx.sessions.revoke_all_for_user(&user.id).await?;
    by.record(
        ctx,
        by.event(Kind::SessionsRevoked, Some(id))
            .detail("sessions", n),
    );
    Ok(n)
}

/// Turns the user's 2FA off (secret and backup codes removed, and their passkeys, which are a
/// second factor too) and ends their sessions, for a user who lost their authenticator.
/// Returns how many sessions ended.
pub async fn reset_two_factor(ctx: &AppContext, by: &Actor, id: &str) -> Result<usize> {
    let user = find(ctx, id).await?;
    crate::store::two_factor::disable(&ctx.db, &user.id, ctx.clock.now_ms()).await?;
    let passkeys = crate::store::passkeys::delete_all_for_user(&ctx.db, &user.id).await?;
    ctx.accounts.cached_users().forget(&user.id);
    let n = ctx.sessions.revoke_all_for_user(&user.id).await?;
    by.record(
        ctx,
        by.event(Kind::TwoFactorReset, Some(id))
            .detail("sessions", n)
            .detail("passkeys_removed", passkeys),
    );
    Ok(n)
}

/// Mails the user the password-reset link the public request sends, and waits for the mail.
pub async fn send_password_reset(ctx: &AppContext, by: &Actor, id: &str) -> Result<()> {
    let user = find(ctx, id).await?;
    if !ctx.config.features.allow_password_reset {
        return Err(Error::PasswordResetDisabled);
    }
    if !ctx.mail.configured() {
        return Err(Error::Conflict(
            "No mail transport is configured to send the reset link.".into(),
        ));
    }
    notices::send_reset_link(ctx, &user, crate::mail::Links::Client).await?;
    by.record(
        ctx,
        by.event(Kind::PasswordResetRequested, Some(id))
            .detail("by", "operator"),
    );
    Ok(())
}

/// Deletes the user (refused for the last enabled ADMIN). Returns how many sessions ended.
pub async fn delete_user(ctx: &AppContext, by: &Actor, id: &str) -> Result<usize> {
    let user = find(ctx, id).await?;
    operator::delete_user_as(ctx, by, &user).await
}

/// `Conflict` when removing `user` (deleting, demoting, disabling) would leave no enabled
/// ADMIN.
pub(super) async fn refuse_last_admin(ctx: &AppContext, user: &User) -> Result<()> {
    if user.role == Role::Admin
        && user.disabled_at.is_none()
        && !crate::store::users::another_enabled_admin(&ctx.db, &user.id).await?
    {
        return Err(Error::Conflict(LAST_ADMIN.into()));
    }
    Ok(())
}

/// A user's live sessions, newest first.
pub async fn list_sessions(
    ctx: &AppContext,
    _by: &Actor,
    user_id: &str,
) -> Result<Vec<SessionSummary>> {
    let user = find(ctx, user_id).await?;
    ctx.sessions.list(&user.id).await
}

/// Ends one of the user's sessions: `UserNotFound` for an unknown user, `NotFound` for a
/// session that is not theirs (or already ended).
pub async fn revoke_session(
    ctx: &AppContext,
    by: &Actor,
    user_id: &str,
    session_id: &str,
) -> Result<()> {
    let user = find(ctx, user_id).await?;
    if session_id.len() > ID_MAX || session_id.contains('\0') {
        return Err(Error::NotFound("Session not found".into()));
    }
    if !ctx.sessions.revoke_own(&user.id, session_id).await? {
        return Err(Error::NotFound("Session not found".into()));
    }
    by.record(
        ctx,
        by.event(Kind::SessionRevoked, Some(user_id))
            .detail("session", session_id),
    );
    Ok(())
}
