//! Users: registration, password login, emailed tokens, sign-in through identity providers,
//! and the user as the client sees it. Called by the HTTP layer and by the user-management
//! commands, so both follow the same rules.

mod directory;
mod disabled;
mod email;
pub mod email_tokens;
mod external;
pub mod names;
pub mod password;
pub mod password_blocklist;
mod public_user;
pub mod validation;

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

pub use disabled::DisabledUsers;
pub use email::Email;
pub use external::ExternalRules;
pub use password::{PasswordHasher, Verification};
pub use password_blocklist::PasswordBlocklist;
pub use public_user::{iso_time, PublicUser};
use validation::{validate_login, validate_new_password, validate_registration, RegistrationInput};

use crate::clock::Clock;
use crate::config::{AuthYaml, Config};
use crate::error::{Error, Result};
use crate::sessions::Sessions;
use crate::store::email_tokens::{NewToken, Purpose};
use crate::store::users::{Inserted, User};
pub use crate::store::users::{Provider, Role};
use crate::store::{self, Db};

/// LibreChat verifies accounts created before this time (2024-06-07) at their next login when
/// no mail transport is configured: they predate its email verification.
const LEGACY_VERIFIED_BEFORE_MS: i64 = 1_717_788_018_000;

/// The rules of accounts that come from configuration.
#[derive(Debug, Clone)]
pub struct AccountRules {
    pub min_password_length: usize,
    /// Revocations must outlive every access token of the revoked session.
    pub session_expiry_ms: i64,
    pub allow_unverified_email_login: bool,
    pub yaml: AuthYaml,
    /// Without mail, new accounts are verified at once (nobody could verify them).
    pub mail_configured: bool,
    pub email_token_expiry_ms: i64,
    /// Passwords too common to set (`PASSWORD_BLOCKLIST`).
    pub blocklist: Arc<PasswordBlocklist>,
}

impl AccountRules {
    pub fn new(c: &Config, blocklist: PasswordBlocklist) -> Self {
        Self {
            min_password_length: c.min_password_length,
            session_expiry_ms: c.sessions.session_expiry_ms,
            allow_unverified_email_login: c.features.allow_unverified_email_login,
            yaml: c.yaml.clone(),
            mail_configured: c.mail.configured(),
            email_token_expiry_ms: c.mail.token_expiry_ms,
            blocklist: Arc::new(blocklist),
        }
    }
}

/// What a trusted caller (the operator's `create-user`) may decide that the public may not.
#[derive(Debug, Clone)]
pub struct RegisterOptions {
    /// `None` (the public API): verified at once when no mail transport could verify it,
    /// else after the emailed link, and deleted after a week if never verified. `Some`: as the
    /// operator says.
    pub email_verified: Option<bool>,
    /// `None`: `ADMIN` for the first user ever, `USER` after.
    pub role: Option<Role>,
    /// The checked invitation this registration uses (see `check_invite`).
    pub invite_token_id: Option<String>,
}

impl RegisterOptions {
    /// Registration through the public API.
    pub fn public(invite_token_id: Option<String>) -> Self {
        Self {
            email_verified: None,
            role: None,
            invite_token_id,
        }
    }
}

#[derive(Debug)]
pub enum Registration {
    Created(Box<User>),
    /// The email was already registered. Callers facing the public must not tell.
    EmailTaken,
}

pub struct Accounts {
    db: Db,
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
    rules: AccountRules,
    /// Users by id with the time they were read, so token-authenticated reads of the user
    /// make no database round trip. Every write through `Accounts` invalidates its entry; a
    /// copy older than `FRESH_FOR_MS` (by the injected clock) is read again, which bounds
    /// staleness from writes made by other processes. Older copies are kept for
    /// `last_known_for_ms`, served only while the database is unavailable.
    cache: Cache<String, KnownUser>,
    last_known_for_ms: i64,
    /// Deleting a user or changing a password ends their sessions: this is where running
    /// servers learn of it.
    sessions: Arc<Sessions>,
    /// Users an operator disabled, checked in memory on every token-authenticated request.
    disabled: DisabledUsers,
}

/// Lets another service that writes to a user (two-factor settings) drop the cached copy, so
/// the next read sees the write.
#[derive(Clone)]
pub struct CachedUsers(Cache<String, KnownUser>);

impl CachedUsers {
    pub fn forget(&self, id: &str) {
        self.0.invalidate(id);
    }
}

/// Why an operator's change is refused when it would lock every operator out.
pub const LAST_ADMIN: &str =
    "This would leave no enabled ADMIN: promote or enable another admin first.";

/// How long a cached user is served without reading the database again.
const FRESH_FOR_MS: i64 = 30_000;
/// How long the last known copy of a user may stand in for the database during an outage:
/// an hour, or the access-token lifetime when that is longer (see `Accounts::new`), so the
/// token of a user read when the outage began keeps working for all its life.
const LAST_KNOWN_FOR_MS: i64 = 3_600_000;

/// A user as last read, and when (by the injected clock).
#[derive(Clone)]
struct KnownUser {
    user: Arc<User>,
    read_at_ms: i64,
}

impl KnownUser {
    fn younger_than(&self, now_ms: i64, age_ms: i64) -> bool {
        (0..age_ms).contains(&(now_ms - self.read_at_ms))
    }
}

impl Accounts {
    pub fn new(
        db: Db,
        hasher: PasswordHasher,
        clock: Arc<dyn Clock>,
        rules: AccountRules,
        sessions: Arc<Sessions>,
    ) -> Self {
        let last_known_for_ms = LAST_KNOWN_FOR_MS.max(rules.session_expiry_ms);
        Self {
            db,
            hasher,
            clock,
            rules,
            // The time to live (wall clock) only frees memory; which copy is served is decided
            // by the injected clock in `user`.
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_millis(
                    u64::try_from(last_known_for_ms).unwrap_or(u64::MAX),
                ))
                .build(),
            last_known_for_ms,
            sessions,
            disabled: DisabledUsers::default(),
        }
    }

    /// `AccountDisabled` when an operator has disabled the user. Memory only.
    pub fn refuse_disabled(&self, user_id: &str) -> Result<()> {
        if self.disabled.contains(user_id) {
            return Err(Error::AccountDisabled);
        }
        Ok(())
    }

    /// Reads the disabled users from the database (at start, and with the bans' sync), so a
    /// user disabled or enabled by another instance or a command counts here too.
    pub async fn sync_disabled(&self) -> Result<()> {
        let ids = store::users::disabled_ids(&self.db).await?;
        self.disabled.replace(ids);
        Ok(())
    }

    /// Disables a user and ends every session of theirs at once, unless they are the last
    /// enabled ADMIN. Returns how many sessions ended.
    pub async fn disable(&self, user_id: &str) -> Result<usize> {
        let now = self.clock.now_ms();
        let revoked = match store::users::disable_revoking_sessions(
            &self.db,
            user_id,
            now,
            now + self.rules.session_expiry_ms,
        )
        .await?
        {
            store::users::Guarded::Done(revoked) => revoked,
            store::users::Guarded::NotFound => return Err(Error::UserNotFound),
            store::users::Guarded::LastAdmin => return Err(Error::Conflict(LAST_ADMIN.into())),
        };
        self.disabled.insert(user_id);
        self.cache.invalidate(user_id);
        self.sessions.revoked_elsewhere(&revoked);
        tracing::warn!(user_id, sessions = revoked.len(), "user disabled");
        Ok(revoked.len())
    }

    /// Lets a disabled user sign in again.
    pub async fn enable(&self, user_id: &str) -> Result<()> {
        if !store::users::enable(&self.db, user_id, self.clock.now_ms()).await? {
            return Err(Error::UserNotFound);
        }
        self.disabled.remove(user_id);
        self.cache.invalidate(user_id);
        tracing::warn!(user_id, "user enabled");
        Ok(())
    }

    /// Sets a user's role, unless that takes it from the last enabled ADMIN.
    pub async fn set_role(&self, user_id: &str, role: &Role) -> Result<()> {
        match store::users::set_role_guarded(&self.db, user_id, role, self.clock.now_ms()).await? {
            store::users::Guarded::Done(()) => {}
            store::users::Guarded::NotFound => return Err(Error::UserNotFound),
            store::users::Guarded::LastAdmin => return Err(Error::Conflict(LAST_ADMIN.into())),
        }
        self.cache.invalidate(user_id);
        tracing::warn!(user_id, role = %role, "role changed");
        Ok(())
    }

    /// The handle other services use to keep this cache true to their writes.
    pub fn cached_users(&self) -> CachedUsers {
        CachedUsers(self.cache.clone())
    }

    /// Password checks waiting for a hashing thread now.
    pub fn hash_queue_depth(&self) -> usize {
        self.hasher.queued()
    }

    /// Registers a local user after LibreChat's validation and `allowedDomains` rule. The
    /// password is hashed before the email is checked, so a taken email costs the same time.
    /// `ALLOW_REGISTRATION` is the caller's business.
    pub async fn register(
        &self,
        input: &RegistrationInput,
        options: &RegisterOptions,
    ) -> Result<Registration> {
        let valid = validate_registration(input, self.rules.min_password_length)
            .map_err(Error::Validation)?;
        self.refuse_common(
            &valid.password,
            &[&valid.name, &valid.username, &valid.email],
        )
        .await?
        .map_err(Error::Validation)?;
        if !self.rules.yaml.email_domain_allowed(&valid.email) {
            return Err(Error::DomainNotAllowed);
        }
        let hash = self.hasher.hash(valid.password.clone()).await?;
        let now = self.clock.now_ms();
        let id = crate::ids::new_object_id(now);
        let email_verified = options
            .email_verified
            .unwrap_or(!self.rules.mail_configured);
        // An abandoned public registration is removed if it never verifies and may not log in.
        let expires = options.email_verified.is_none()
            && !email_verified
            && !self.rules.allow_unverified_email_login;
        let new = store::users::NewLocalUser {
            id: &id,
            email: &valid.email,
            name: &valid.name,
            username: &valid.username,
            password_hash: &hash,
            email_verified,
            role: options.role.as_ref(),
            now_ms: now,
            expires_at: expires.then_some(now + email_tokens::UNVERIFIED_ACCOUNT_LIFETIME_MS),
            invite_token_id: options.invite_token_id.as_deref(),
        };
        Ok(match store::users::insert_local(&self.db, &new).await? {
            Inserted::Created(user) => {
                tracing::info!(user_id = %user.id, role = %user.role, invited = options.invite_token_id.is_some(), "user registered");
                Registration::Created(user)
            }
            Inserted::EmailTaken => Registration::EmailTaken,
            Inserted::InviteGone => return Err(Error::InvalidInvite),
        })
    }

    /// Password login. Every credential failure is `InvalidCredentials` after the same amount
    /// of hashing work, whether or not the email exists.
    pub async fn login(&self, email: Option<&str>, password: Option<&str>) -> Result<User> {
        let (Some(email), Some(password)) = (
            email.filter(|e| !e.is_empty()),
            password.filter(|p| !p.is_empty()),
        ) else {
            return Err(Error::Validation("Missing credentials".into()));
        };
        validate_login(email, password, self.rules.min_password_length)
            .map_err(Error::Validation)?;
        let email = Email::normalized(email);
        let user = store::users::find_by_email(&self.db, email.as_str()).await?;
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let verdict = self
            .hasher
            .verify(password.to_string(), stored.clone())
            .await?;
        let (Some(user), Verification::Match { rehash }) = (user, verdict) else {
            return Err(Error::InvalidCredentials);
        };
        if rehash {
            if let Some(old) = &stored {
                self.upgrade_hash(&user.id, old, password).await?;
            }
        }
        let mut user = user;
        if !user.email_verified
            && !self.rules.mail_configured
            && user.created_at < LEGACY_VERIFIED_BEFORE_MS
        {
            store::users::mark_verified(&self.db, &user.id, self.clock.now_ms()).await?;
            self.cache.invalidate(&user.id);
            user.email_verified = true;
        }
        if !user.email_verified {
            if !self.rules.allow_unverified_email_login {
                return Err(Error::EmailNotVerified);
            }
            if user.expires_at.is_some() {
                store::users::clear_expiry(&self.db, &user.id).await?;
                user.expires_at = None;
            }
        }
        // Just read: the copy the user's token-authenticated requests start from (and stand
        // on while the database is away).
        self.cache.insert(
            user.id.clone(),
            KnownUser {
                user: Arc::new(user.clone()),
                read_at_ms: self.clock.now_ms(),
            },
        );
        Ok(user)
    }

    /// Whether `password` is the user's own (read fresh from the database, not from a cached
    /// copy). A wrong one, and an account without a password, are `InvalidCredentials`.
    pub async fn check_password(&self, user: &User, password: &str) -> Result<()> {
        let stored = store::users::find_by_id(&self.db, &user.id)
            .await?
            .and_then(|u| u.password_hash);
        if password.is_empty() || stored.is_none() {
            // The same work as a real check, so the answer's timing tells nothing.
            let _ = self.hasher.verify(password.to_string(), None).await?;
            return Err(Error::InvalidCredentials);
        }
        match self.hasher.verify(password.to_string(), stored).await? {
            Verification::Match { .. } => Ok(()),
            _ => Err(Error::InvalidCredentials),
        }
    }

    /// Replaces a LibreChat bcrypt hash (or a weaker argon2 one) by argon2id after a login
    /// proved the password.
    async fn upgrade_hash(&self, user_id: &str, old: &str, password: &str) -> Result<()> {
        let new = self.hasher.hash(password.to_string()).await?;
        let now = self.clock.now_ms();
        if store::users::replace_password_hash(&self.db, user_id, old, &new, now).await? {
            tracing::info!(user_id, "password hash upgraded to argon2id");
        }
        self.cache.invalidate(user_id);
        Ok(())
    }

    /// The user with this id, from memory when a fresh copy is there. While the database is
    /// unavailable, the last known copy stands in (a token that was valid stays valid:
    /// revocations and bans live in memory); only then, so a user deleted elsewhere never
    /// comes back from it.
    pub async fn user(&self, id: &str) -> Result<Option<Arc<User>>> {
        let now = self.clock.now_ms();
        let known = self.cache.get(id);
        if let Some(known) = known.as_ref().filter(|k| k.younger_than(now, FRESH_FOR_MS)) {
            return Ok(Some(known.user.clone()));
        }
        match store::users::find_by_id(&self.db, id).await {
            Ok(Some(user)) => {
                let user = Arc::new(user);
                self.cache.insert(
                    id.to_string(),
                    KnownUser {
                        user: user.clone(),
                        read_at_ms: now,
                    },
                );
                Ok(Some(user))
            }
            Ok(None) => {
                self.cache.invalidate(id);
                Ok(None)
            }
            Err(Error::Unavailable(e)) => {
                match known.filter(|k| k.younger_than(now, self.last_known_for_ms)) {
                    Some(known) => Ok(Some(known.user)),
                    None => Err(Error::Unavailable(e)),
                }
            }
            Err(e) => Err(e),
        }
    }

    pub async fn find_by_email(&self, email: &Email) -> Result<Option<User>> {
        store::users::find_by_email(&self.db, email.as_str()).await
    }

    pub async fn username_taken(&self, username: &str) -> Result<bool> {
        Ok(
            store::users::find_by_username(&self.db, &username.to_lowercase())
                .await?
                .is_some(),
        )
    }

    /// Every user, oldest first.
    pub async fn list(&self) -> Result<Vec<User>> {
        store::users::list(&self.db).await
    }

    /// Deletes a user and everything that lets them in; their sessions are revoked so running
    /// servers refuse their tokens. Returns how many sessions ended, or `UserNotFound`.
    pub async fn delete(&self, user_id: &str) -> Result<usize> {
        let now = self.clock.now_ms();
        let revoked =
            store::users::delete(&self.db, user_id, now, now + self.rules.session_expiry_ms)
                .await?
                .ok_or(Error::UserNotFound)?;
        self.cache.invalidate(user_id);
        self.sessions.revoked_elsewhere(&revoked);
        tracing::info!(user_id, sessions = revoked.len(), "user deleted");
        Ok(revoked.len())
    }

    /// Sets a new password under the registration rules and ends every session of the user.
    /// Returns how many sessions were revoked.
    pub async fn set_password(&self, user_id: &str, password: &str) -> Result<usize> {
        validate_new_password(password, self.rules.min_password_length)
            .map_err(Error::Validation)?;
        let user = store::users::find_by_id(&self.db, user_id)
            .await?
            .ok_or(Error::UserNotFound)?;
        self.refuse_common(password, &user.personal_words())
            .await?
            .map_err(Error::Validation)?;
        let hash = self.hasher.hash(password.to_string()).await?;
        let now = self.clock.now_ms();
        let revoked = store::users::set_password_revoking_sessions(
            &self.db,
            user_id,
            &hash,
            now,
            now + self.rules.session_expiry_ms,
        )
        .await?
        .ok_or(Error::UserNotFound)?;
        self.cache.invalidate(user_id);
        self.sessions.revoked_elsewhere(&revoked);
        tracing::info!(user_id, sessions = revoked.len(), "password changed");
        Ok(revoked.len())
    }

    /// Records acceptance of the terms; the first acceptance time is kept.
    pub async fn accept_terms(&self, id: &str) -> Result<i64> {
        let at = store::users::accept_terms(&self.db, id, self.clock.now_ms()).await?;
        self.cache.invalidate(id);
        at.ok_or(Error::UserNotFound)
    }

    /// Issues a verification or password-reset token for this user, replacing any earlier one
    /// of the same kind. Returns the token to put in the link.
    pub async fn issue_email_token(&self, purpose: Purpose, user: &User) -> Result<String> {
        self.new_email_token(
            purpose,
            &user.email,
            Some(&user.id),
            self.rules.email_token_expiry_ms,
        )
        .await
    }

    /// Stores a fresh token in place of any earlier one of the same purpose and email;
    /// returns the token itself, which only the link carries.
    async fn new_email_token(
        &self,
        purpose: Purpose,
        email: &str,
        user_id: Option<&str>,
        lifetime_ms: i64,
    ) -> Result<String> {
        let token = email_tokens::new_token();
        let now = self.clock.now_ms();
        let id = crate::ids::new_object_id(now);
        let stored_hash = email_tokens::hash(&token);
        store::email_tokens::replace(
            &self.db,
            &NewToken {
                id: &id,
                purpose,
                email,
                user_id,
                token_hash: &stored_hash,
                now_ms: now,
                expires_at: now + lifetime_ms,
            },
        )
        .await?;
        Ok(token)
    }

    /// Marks the email verified if `token` is its live verification token. Every failure is
    /// `InvalidVerificationToken`, whether or not the email exists.
    pub async fn verify_email(&self, email: &Email, token: &str) -> Result<()> {
        let now = self.clock.now_ms();
        let stored = store::email_tokens::find_by_email(
            &self.db,
            Purpose::EmailVerification,
            email.as_str(),
        )
        .await?;
        let Some(stored) = stored.filter(|s| email_tokens::matches(s, token, now)) else {
            return Err(Error::InvalidVerificationToken);
        };
        let Some(user_id) = stored.user_id.as_deref() else {
            return Err(Error::InvalidVerificationToken);
        };
        if !store::users::verify_email_with_token(&self.db, user_id, &stored.id, now).await? {
            return Err(Error::InvalidVerificationToken);
        }
        self.cache.invalidate(user_id);
        tracing::info!(user_id, "email verified");
        Ok(())
    }

    /// The emailed password reset: the password must pass the registration rules before the
    /// token is touched, so a rejected password leaves the link usable. On success every
    /// session of the user ends. Returns the user.
    pub async fn reset_password(
        &self,
        user_id: &str,
        token: &str,
        password: &str,
        confirm_password: Option<&str>,
    ) -> Result<User> {
        validate_new_password(password, self.rules.min_password_length)
            .map_err(Error::BadRequest)?;
        if confirm_password.is_some_and(|c| c != password) {
            return Err(Error::BadRequest("The passwords did not match".into()));
        }
        let now = self.clock.now_ms();
        let stored =
            store::email_tokens::find_by_user(&self.db, Purpose::PasswordReset, user_id).await?;
        let Some(stored) = stored.filter(|s| email_tokens::matches(s, token, now)) else {
            return Err(Error::InvalidResetToken);
        };
        // Only now that the link is known good: the account's own words are part of the
        // check, and a refusal must not tell a stranger what they are.
        let user = store::users::find_by_id(&self.db, user_id)
            .await?
            .ok_or(Error::InvalidResetToken)?;
        self.refuse_common(password, &user.personal_words())
            .await?
            .map_err(Error::BadRequest)?;
        let hash = self.hasher.hash(password.to_string()).await?;
        let now = self.clock.now_ms();
        let revoked = store::users::reset_password_with_token(
            &self.db,
            user_id,
            &stored.id,
            &hash,
            now,
            now + self.rules.session_expiry_ms,
        )
        .await?
        .ok_or(Error::InvalidResetToken)?;
        self.cache.invalidate(user_id);
        self.sessions.revoked_elsewhere(&revoked);
        tracing::info!(
            user_id,
            sessions = revoked.len(),
            "password reset by emailed link"
        );
        let user = store::users::find_by_id(&self.db, user_id)
            .await?
            .ok_or(Error::InvalidResetToken)?;
        Ok(user)
    }

    /// LibreChat's `path: message` refusal of a password on the blocklist. zxcvbn's matching
    /// is CPU work of up to some milliseconds: it runs beside the runtime, not on it.
    async fn refuse_common(
        &self,
        password: &str,
        personal: &[&str],
    ) -> Result<std::result::Result<(), String>> {
        let list = self.rules.blocklist.clone();
        let password = password.to_owned();
        let personal: Vec<String> = personal.iter().map(|w| (*w).to_owned()).collect();
        let refused = tokio::task::spawn_blocking(move || {
            let personal: Vec<&str> = personal.iter().map(String::as_str).collect();
            list.refuses(&password, &personal)
        })
        .await
        .map_err(|e| {
            Error::Internal(anyhow::anyhow!("the password blocklist check failed: {e}"))
        })?;
        Ok(if refused {
            Err(format!("password: {}", password_blocklist::TOO_COMMON))
        } else {
            Ok(())
        })
    }

    /// Creates an invitation for an email that has no account yet, replacing an earlier
    /// invitation of that email. Returns the token to put in the link.
    pub async fn create_invite(&self, email: &Email) -> Result<String> {
        if !email.is_valid() {
            return Err(Error::BadRequest(format!(
                "{:?} is not an email address",
                email.as_str()
            )));
        }
        if store::users::find_by_email(&self.db, email.as_str())
            .await?
            .is_some()
        {
            return Err(Error::BadRequest(format!(
                "a user with email {email} already exists"
            )));
        }
        let token = self
            .new_email_token(
                Purpose::Invite,
                email.as_str(),
                None,
                email_tokens::INVITE_LIFETIME_MS,
            )
            .await?;
        tracing::info!(email = %email, "invitation created");
        Ok(token)
    }

    /// The id of the live invitation of `email` that `token` proves, or `InvalidInvite`.
    /// The invitation is consumed by the registration that uses it.
    pub async fn check_invite(&self, email: &Email, token: &str) -> Result<String> {
        let now = self.clock.now_ms();
        let stored =
            store::email_tokens::find_by_email(&self.db, Purpose::Invite, email.as_str()).await?;
        stored
            .filter(|s| email_tokens::matches(s, token, now))
            .map(|s| s.id)
            .ok_or(Error::InvalidInvite)
    }

    /// Deletes unverified registrations past their expiry and emailed tokens past theirs.
    /// Returns how many accounts were deleted.
    pub async fn purge_expired(&self) -> Result<usize> {
        let now = self.clock.now_ms();
        store::email_tokens::purge_expired(&self.db, now).await?;
        let deleted = store::users::purge_unverified(&self.db, now).await?;
        for id in &deleted {
            self.cache.invalidate(id);
        }
        Ok(deleted.len())
    }
}
