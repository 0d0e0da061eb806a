//! Two-factor authentication of a signed-in user: enrol, check a code, confirm the enrolment,
//! disable it and regenerate the backup codes. Every step that checks a code counts against the
//! account's code-guessing window first. (Completing a login with a code is `sign_in`.)

use std::sync::Arc;

use super::guard::limit_code_guesses;
use super::Client;
use crate::app::AppContext;
use crate::audit::{Event, Kind};
use crate::error::{Error, Result};
use crate::store::users::User;
use crate::twofactor::backup_codes::StoredCode;
use crate::twofactor::{Code, Enrolment};

async fn current_user(ctx: &AppContext, id: &str) -> Result<Arc<User>> {
    ctx.accounts.user(id).await?.ok_or(Error::UserNotFound)
}

/// Stages a new secret and backup codes. A first enrolment needs no code; replacing a live
/// one does.
pub async fn enrol(
    ctx: &AppContext,
    client: Client,
    user_id: &str,
    code: Option<Code<'_>>,
) -> Result<Enrolment> {
    if code.is_some() {
        limit_code_guesses(ctx, user_id, client.ip).await?;
    }
    let user = current_user(ctx, user_id).await?;
    ctx.two_factor.enable(&user, code).await
}

/// Checks a code: against the staged secret during enrolment, else against the live one.
pub async fn check_code(
    ctx: &AppContext,
    client: Client,
    user_id: &str,
    code: Option<Code<'_>>,
) -> Result<()> {
    limit_code_guesses(ctx, user_id, client.ip).await?;
    ctx.two_factor.verify(user_id, code).await
}

/// Makes the staged enrolment live with a TOTP code of the staged secret.
pub async fn confirm(
    ctx: &AppContext,
    client: Client,
    user_id: &str,
    totp: Option<&str>,
) -> Result<()> {
    limit_code_guesses(ctx, user_id, client.ip).await?;
    ctx.two_factor.confirm(user_id, totp).await?;
    ctx.audit.record(
        Event::new(Kind::TwoFactorEnabled)
            .user(user_id)
            .client(&client),
    );
    Ok(())
}

pub async fn disable(
    ctx: &AppContext,
    client: Client,
    user_id: &str,
    code: Option<Code<'_>>,
) -> Result<()> {
    limit_code_guesses(ctx, user_id, client.ip).await?;
    let backup = matches!(code, Some(Code::Backup(_)));
    ctx.two_factor.disable(user_id, code).await?;
    if backup {
        ctx.audit.record(
            Event::new(Kind::BackupCodeUsed)
                .user(user_id)
                .client(&client),
        );
    }
    ctx.audit.record(
        Event::new(Kind::TwoFactorDisabled)
            .user(user_id)
            .client(&client),
    );
    Ok(())
}

/// New backup codes in place of the old: the plain codes (shown once) and what is stored.
pub async fn regenerate_backup_codes(
    ctx: &AppContext,
    client: Client,
    user_id: &str,
    code: Option<Code<'_>>,
) -> Result<(Vec<String>, Vec<StoredCode>)> {
    limit_code_guesses(ctx, user_id, client.ip).await?;
    ctx.two_factor.regenerate(user_id, code).await
}
