//! Two-factor authentication: TOTP enrolment (staged, then confirmed), backup codes, and the
//! second factor of a login. Every check reads the user's 2FA state fresh from the database and
//! uses up what it accepts: a TOTP step once (LibreChat accepts a code again for as long as it
//! is valid), a backup code once.

pub mod backup_codes;
pub mod cipher;
pub mod totp;

use std::sync::Arc;

use serde_json::json;

use crate::accounts::CachedUsers;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::store::two_factor::TwoFactorRow;
use crate::store::users::User;
use crate::store::{self, Db};
pub use backup_codes::StoredCode;
use cipher::SecretCipher;

/// A code from a request body. A TOTP code wins when both are given, as in LibreChat.
#[derive(Debug, Clone, Copy)]
pub enum Code<'a> {
    Totp(&'a str),
    Backup(&'a str),
}

impl<'a> Code<'a> {
    pub fn from_body(token: Option<&'a str>, backup_code: Option<&'a str>) -> Option<Self> {
        let present = |v: Option<&'a str>| v.map(str::trim).filter(|v| !v.is_empty());
        match (present(token), present(backup_code)) {
            (Some(t), _) => Some(Code::Totp(t)),
            (None, Some(b)) => Some(Code::Backup(b)),
            (None, None) => None,
        }
    }
}

/// A staged enrolment, shown to the user once.
pub struct Enrolment {
    pub otpauth_url: String,
    pub backup_codes: Vec<String>,
}

pub struct TwoFactor {
    db: Db,
    cipher: SecretCipher,
    clock: Arc<dyn Clock>,
    /// `APP_TITLE`: the issuer authenticator apps show.
    issuer: String,
    /// Enabling or disabling 2FA changes the user: their cached copy is dropped here.
    users: CachedUsers,
}

fn bad(message: &str) -> Error {
    Error::BadRequest(message.into())
}

fn unauthorized(message: &str) -> Error {
    Error::Unauthorized(message.into())
}

const INVALID_CODE: &str = "Invalid token or backup code";

impl TwoFactor {
    pub fn new(
        db: Db,
        creds_key: [u8; 32],
        clock: Arc<dyn Clock>,
        issuer: String,
        users: CachedUsers,
    ) -> Self {
        Self {
            db,
            cipher: SecretCipher::new(creds_key),
            clock,
            issuer,
            users,
        }
    }

    async fn row(&self, user_id: &str) -> Result<TwoFactorRow> {
        store::two_factor::load(&self.db, user_id)
            .await?
            .ok_or(Error::UserNotFound)
    }

    fn decrypt(&self, user_id: &str, stored: &str) -> Result<String> {
        self.cipher.decrypt(stored).map_err(|e| {
            tracing::error!(user_id, error = %e, "2FA secret unreadable (was CREDS_KEY changed?)");
            bad("2FA secret is missing or corrupted")
        })
    }

    fn now_secs(&self) -> u64 {
        u64::try_from(self.clock.now_ms().div_euclid(1000)).unwrap_or(0)
    }

    /// Checks `code` against the live secret and backup codes and uses it up. `false` for a
    /// wrong code, a replayed TOTP step or a used backup code.
    async fn use_live_code(
        &self,
        user_id: &str,
        row: &TwoFactorRow,
        code: Code<'_>,
    ) -> Result<bool> {
        let now = self.clock.now_ms();
        match code {
            Code::Totp(code) => {
                let Some(stored) = row.totp_secret.as_deref() else {
                    return Ok(false);
                };
                let secret = self.decrypt(user_id, stored)?;
                let Some(step) = totp::matching_step(&secret, code, self.now_secs()) else {
                    return Ok(false);
                };
                let fresh = store::two_factor::claim_step(&self.db, user_id, step as i64).await?;
                if !fresh {
                    tracing::warn!(user_id, "a TOTP code was presented again: refused");
                }
                Ok(fresh)
            }
            Code::Backup(code) => {
                let mut codes = backup_codes::from_json(row.backup_codes.as_deref());
                let Some(i) = backup_codes::find_unused(&codes, code) else {
                    return Ok(false);
                };
                codes[i].used = true;
                codes[i].used_at = Some(json!(now));
                let stored = backup_codes::to_json(&codes);
                let used = store::two_factor::replace_backup_codes(
                    &self.db,
                    user_id,
                    row.backup_codes.as_deref(),
                    &stored,
                    now,
                )
                .await?;
                if used {
                    tracing::info!(user_id, "backup code used");
                }
                Ok(used)
            }
        }
    }

    /// Requires a valid code when 2FA is on (`missing` is the answer without one).
    async fn require_code_if_enabled(
        &self,
        user_id: &str,
        code: Option<Code<'_>>,
        missing: &str,
    ) -> Result<()> {
        let row = self.row(user_id).await?;
        if row.two_factor_enabled == 0 {
            return Ok(());
        }
        let Some(code) = code else {
            return Err(bad(missing));
        };
        if self.use_live_code(user_id, &row, code).await? {
            Ok(())
        } else {
            Err(unauthorized(INVALID_CODE))
        }
    }

    /// The second factor of a login. `false` for no code or a wrong one.
    pub async fn check_login(&self, user_id: &str, code: Option<Code<'_>>) -> Result<bool> {
        let Some(code) = code else {
            return Ok(false);
        };
        let row = self.row(user_id).await?;
        if row.two_factor_enabled == 0 {
            return Ok(false);
        }
        self.use_live_code(user_id, &row, code).await
    }

    /// Stages a new secret and backup codes; re-enrolling needs a code of the current ones.
    pub async fn enable(&self, user: &User, code: Option<Code<'_>>) -> Result<Enrolment> {
        self.require_code_if_enabled(
            &user.id,
            code,
            "TOTP token or backup code is required to re-enroll 2FA",
        )
        .await?;
        let secret = totp::new_secret();
        let (plain, stored) = backup_codes::generate();
        store::two_factor::stage(
            &self.db,
            &user.id,
            &self.cipher.encrypt(&secret),
            &backup_codes::to_json(&stored),
            self.clock.now_ms(),
        )
        .await?;
        tracing::info!(user_id = %user.id, "2FA enrolment staged");
        Ok(Enrolment {
            otpauth_url: totp::otpauth_url(&self.issuer, &user.email, &secret),
            backup_codes: plain,
        })
    }

    /// Checks a code. During enrolment it is checked against the staged secret and not used
    /// up (the client confirms with the same code); otherwise against the live one, and used.
    pub async fn verify(&self, user_id: &str, code: Option<Code<'_>>) -> Result<()> {
        let row = self.row(user_id).await?;
        let invalid = || bad("Invalid token or backup code.");
        if let Some(pending) = row.pending_totp_secret.as_deref() {
            let secret = self.decrypt(user_id, pending)?;
            let ok = match code {
                Some(Code::Totp(c)) => totp::matching_step(&secret, c, self.now_secs()).is_some(),
                Some(Code::Backup(c)) => {
                    let staged = backup_codes::from_json(row.pending_backup_codes.as_deref());
                    backup_codes::find_unused(&staged, c).is_some()
                }
                None => false,
            };
            return if ok { Ok(()) } else { Err(invalid()) };
        }
        if row.totp_secret.is_none() {
            return Err(bad("2FA not initiated"));
        }
        match code {
            Some(code) if self.use_live_code(user_id, &row, code).await? => Ok(()),
            _ => Err(invalid()),
        }
    }

    /// Makes the staged enrolment live with a TOTP code of the staged secret (used up).
    pub async fn confirm(&self, user_id: &str, token: Option<&str>) -> Result<()> {
        let row = self.row(user_id).await?;
        let Some(pending) = row.pending_totp_secret.as_deref() else {
            return Err(bad("2FA not initiated"));
        };
        let secret = self.decrypt(user_id, pending)?;
        let step = token
            .and_then(|t| totp::matching_step(&secret, t, self.now_secs()))
            .ok_or_else(|| bad("Invalid token."))?;
        let now = self.clock.now_ms();
        if !store::two_factor::confirm(&self.db, user_id, pending, step as i64, now).await? {
            return Err(bad("Invalid token."));
        }
        self.users.forget(user_id);
        tracing::info!(user_id, "2FA enabled");
        Ok(())
    }

    pub async fn disable(&self, user_id: &str, code: Option<Code<'_>>) -> Result<()> {
        let row = self.row(user_id).await?;
        if row.two_factor_enabled == 0 {
            return Err(bad("2FA is not setup for this user"));
        }
        let Some(code) = code else {
            return Err(bad(
                "Either token or backup code is required to disable 2FA",
            ));
        };
        if !self.use_live_code(user_id, &row, code).await? {
            return Err(unauthorized(INVALID_CODE));
        }
        store::two_factor::disable(&self.db, user_id, self.clock.now_ms()).await?;
        self.users.forget(user_id);
        tracing::info!(user_id, "2FA disabled");
        Ok(())
    }

    /// New backup codes in place of the old; needs a valid code when 2FA is on.
    pub async fn regenerate(
        &self,
        user_id: &str,
        code: Option<Code<'_>>,
    ) -> Result<(Vec<String>, Vec<StoredCode>)> {
        self.require_code_if_enabled(
            user_id,
            code,
            "TOTP token or backup code is required to regenerate backup codes",
        )
        .await?;
        let (plain, stored) = backup_codes::generate();
        store::two_factor::replace_backup_codes(
            &self.db,
            user_id,
            None,
            &backup_codes::to_json(&stored),
            self.clock.now_ms(),
        )
        .await?;
        tracing::info!(user_id, "backup codes regenerated");
        Ok((plain, stored))
    }

    /// Deleting an account with 2FA on needs a valid code.
    pub async fn check_deletion(&self, user_id: &str, code: Option<Code<'_>>) -> Result<()> {
        self.require_code_if_enabled(
            user_id,
            code,
            "TOTP token or backup code is required to delete account with 2FA enabled",
        )
        .await
    }
}
