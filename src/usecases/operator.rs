//! What an operator does from the command line (`bouncer create-user`, `delete-user`, …): the
//! same rules as the API where the API has them, and the operator's own where it does not. These
//! work with registration closed; they wait for their mail and report its failure. Each
//! records its audit event as done `via` the command line; the admin API's use cases
//! (`admin_*.rs`) reuse them with the acting admin (the `*_as` forms).

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use super::admin::Actor;
use super::notices::{self, Invitation};
use crate::accounts::validation::RegistrationInput;
use crate::accounts::{Email, RegisterOptions, Registration};
use crate::app::AppContext;
use crate::audit::Kind;
use crate::error::{Error, Result};
use crate::moderation::bans::BanKind;
use crate::moderation::Subject;
use crate::store::bans::Ban;
use crate::store::users::{Role, User};

/// The user with this email, or `UserNotFound`.
pub async fn find_user(ctx: &AppContext, email: &str) -> Result<User> {
    ctx.accounts
        .find_by_email(&Email::normalized(email))
        .await?
        .ok_or(Error::UserNotFound)
}

/// An account the operator creates.
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub username: String,
    pub password: String,
    /// Whether the email counts as verified.
    pub email_verified: bool,
    /// `None`: ADMIN for the first user ever, USER after.
    pub role: Option<Role>,
}

pub struct CreatedUser {
    pub user: User,
    /// With mail configured, an unverified user is sent the verification link: `Some` with
    /// the outcome of that sending.
    pub verification_mail: Option<anyhow::Result<()>>,
}

/// `AlreadyExists` when the email or the (non-empty) username is taken: `create_user` checks
/// it, and a command may ask it before prompting for a password.
pub async fn check_available(ctx: &AppContext, email: &str, username: &str) -> Result<()> {
    if let Some(existing) = ctx
        .accounts
        .find_by_email(&Email::normalized(email))
        .await?
    {
        return Err(Error::AlreadyExists(format!(
            "a user with email {} already exists",
            existing.email
        )));
    }
    if !username.is_empty() && ctx.accounts.username_taken(username).await? {
        return Err(Error::AlreadyExists(format!(
            "a user with username {} already exists",
            username
        )));
    }
    Ok(())
}

/// Creates an account under the registration rules of the API (the same validation, the
/// `allowedDomains` list), even with registration closed. Unlike the public registration, a
/// taken email is said so, and usernames must be unique: an operator is trusted with the
/// answer, and a directory with two users of one username is one they would not want.
pub async fn create_user(ctx: &AppContext, new: NewUser) -> Result<CreatedUser> {
    create_user_as(ctx, &Actor::Cli, new).await
}

/// `create_user` by this actor.
pub async fn create_user_as(ctx: &AppContext, by: &Actor, new: NewUser) -> Result<CreatedUser> {
    check_available(ctx, &new.email, &new.username).await?;
    let input = RegistrationInput {
        name: Some(new.name),
        username: Some(new.username),
        email: Some(new.email.clone()),
        password: Some(new.password.clone()),
        confirm_password: Some(new.password),
    };
    let options = RegisterOptions {
        email_verified: Some(new.email_verified),
        role: new.role,
        invite_token_id: None,
    };
    let user = match ctx.accounts.register(&input, &options).await? {
        Registration::Created(user) => *user,
        Registration::EmailTaken => {
            return Err(Error::AlreadyExists(format!(
                "a user with email {} already exists",
                new.email
            )))
        }
    };
    by.record(
        ctx,
        by.event(Kind::UserCreated, Some(&user.id))
            .detail("role", user.role.as_str()),
    );
    let verification_mail = if !user.email_verified && ctx.mail.configured() {
        // The account cannot log in until verified: the message goes out now.
        Some(notices::send_verification(ctx, &user, crate::mail::Links::Client).await)
    } else {
        None
    };
    Ok(CreatedUser {
        user,
        verification_mail,
    })
}

/// Deletes a user; every session ends. Returns how many.
pub async fn delete_user(ctx: &AppContext, user: &User) -> Result<usize> {
    delete_user_as(ctx, &Actor::Cli, user).await
}

/// `delete_user` by this actor. An admin may not delete the last enabled ADMIN (themselves
/// included); the command line may, as the one who runs it can always create another.
pub async fn delete_user_as(ctx: &AppContext, by: &Actor, user: &User) -> Result<usize> {
    if matches!(by, Actor::Admin(_)) {
        super::admin_users::refuse_last_admin(ctx, user).await?;
    }
    let sessions = ctx.accounts.delete(&user.id).await?;
    by.record(
        ctx,
        by.event(Kind::UserDeleted, Some(&user.id))
            .detail("email", user.email.as_str())
            .detail("sessions", sessions),
    );
    Ok(sessions)
}

/// Sets a user's password under the registration rules; every session ends. Returns how many.
pub async fn set_password(ctx: &AppContext, user: &User, password: &str) -> Result<usize> {
    let sessions = ctx.accounts.set_password(&user.id, password).await?;
    let by = Actor::Cli;
    by.record(
        ctx,
        by.event(Kind::PasswordChanged, Some(&user.id))
            .detail("sessions", sessions),
    );
    Ok(sessions)
}

/// Invites an email to register (once, for that email, with registration closed): mailed, or
/// the link returned when no mail transport is configured.
pub async fn invite(ctx: &AppContext, email: &str) -> Result<Invitation> {
    let email = Email::normalized(email);
    let invitation = notices::invite(ctx, &email).await?;
    let by = Actor::Cli;
    by.record(
        ctx,
        by.event(Kind::UserCreated, None)
            .detail("invited", email.as_str()),
    );
    Ok(invitation)
}

/// Bans a user for `duration_ms` and ends their sessions. Returns when the ban ends.
pub async fn ban_user(ctx: &AppContext, user: &User, duration_ms: i64) -> Result<i64> {
    // An operator's ban names no IP.
    let subject = Subject::User {
        id: &user.id,
        ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    ctx.moderation
        .ban(subject, "operator", 0, duration_ms)
        .await?;
    let by = Actor::Cli;
    by.record(
        ctx,
        by.event(Kind::Banned, Some(&user.id))
            .detail("kind", "user")
            .detail("subject", user.id.as_str())
            .detail("duration_ms", duration_ms),
    );
    Ok(ctx.clock.now_ms() + duration_ms)
}

/// Lifts a user's ban; `false` when there was none.
pub async fn unban_user(ctx: &AppContext, user: &User) -> Result<bool> {
    let lifted = ctx.moderation.unban(BanKind::User, &user.id).await?;
    if lifted {
        let by = Actor::Cli;
        by.record(
            ctx,
            by.event(Kind::Unbanned, Some(&user.id))
                .detail("kind", "user")
                .detail("subject", user.id.as_str()),
        );
    }
    Ok(lifted)
}

/// Lifts the bans of an address or network (and of the prefix ban that covers an address).
/// Returns the subjects lifted.
pub async fn unban_ip(ctx: &AppContext, net: IpNet) -> Result<Vec<String>> {
    let lifted = ctx.moderation.unban_ip(net).await?;
    let by = Actor::Cli;
    for subject in &lifted {
        by.record(
            ctx,
            by.event(Kind::Unbanned, None)
                .detail("kind", "ip")
                .detail("subject", subject.as_str()),
        );
    }
    Ok(lifted)
}

pub async fn list_users(ctx: &AppContext) -> Result<Vec<User>> {
    ctx.accounts.list().await
}

/// The bans in force, each with who it names: the email of a banned user that still exists.
pub async fn list_bans(ctx: &AppContext) -> Result<Vec<(Ban, String)>> {
    let bans = ctx.moderation.active_bans().await?;
    let mut rows = Vec::with_capacity(bans.len());
    for ban in bans {
        let who = if ban.kind == "user" {
            match ctx.accounts.user(&ban.subject).await? {
                Some(u) => u.email.clone(),
                None => ban.subject.clone(),
            }
        } else {
            ban.subject.clone()
        };
        rows.push((ban, who));
    }
    Ok(rows)
}
