//! Users: registration, password login, and the user as the client sees it. Called by the HTTP
//! layer and, later, by the user-management commands, so both follow the same rules.

pub mod password;
mod public_user;
pub mod validation;

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

pub use password::{PasswordHasher, Verification};
pub use public_user::{iso_time, PublicUser};
use validation::{
    normalize_email, validate_login, validate_new_password, validate_registration,
    RegistrationInput,
};

use crate::clock::Clock;
use crate::config::{AuthYaml, Config};
use crate::error::{Error, Result};
use crate::store::{self, users::User, Db};

/// The rules of accounts that come from configuration.
#[derive(Debug, Clone)]
pub struct AccountRules {
    pub min_password_length: usize,
    /// Revocations must outlive every access token of the revoked session.
    pub session_expiry_ms: i64,
    pub allow_unverified_email_login: bool,
    pub yaml: AuthYaml,
}

impl From<&Config> for AccountRules {
    fn from(c: &Config) -> Self {
        Self {
            min_password_length: c.min_password_length,
            session_expiry_ms: c.session_expiry_ms,
            allow_unverified_email_login: c.allow_unverified_email_login,
            yaml: c.yaml.clone(),
        }
    }
}

/// What a trusted caller (the operator's `create-user`) may decide that the public may not.
#[derive(Debug, Clone)]
pub struct RegisterOptions {
    pub email_verified: bool,
    /// `None`: `ADMIN` for the first user ever, `USER` after.
    pub role: Option<String>,
}

impl RegisterOptions {
    /// Registration through the public API.
    pub fn public() -> Self {
        Self {
            email_verified: true,
            role: None,
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
    /// Users by id, so token-authenticated reads of the user make no database round trip.
    /// Every write through `Accounts` invalidates its entry; the short life bounds staleness
    /// from writes made by other processes.
    cache: Cache<String, Arc<User>>,
}

impl Accounts {
    pub fn new(db: Db, hasher: PasswordHasher, clock: Arc<dyn Clock>, rules: AccountRules) -> Self {
        Self {
            db,
            hasher,
            clock,
            rules,
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(30))
                .build(),
        }
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
        if !self.rules.yaml.email_domain_allowed(&valid.email) {
            return Err(Error::DomainNotAllowed);
        }
        let hash = self.hasher.hash(valid.password.clone()).await?;
        let now = self.clock.now_ms();
        let id = crate::ids::new_object_id(now);
        let new = store::users::NewLocalUser {
            id: &id,
            email: &valid.email,
            name: &valid.name,
            username: &valid.username,
            password_hash: &hash,
            // Without a mail transport there is no way to verify, so LibreChat marks new users
            // verified at once; the email issue changes this when mail is configured.
            email_verified: options.email_verified,
            role: options.role.as_deref(),
            now_ms: now,
        };
        Ok(match store::users::insert_local(&self.db, &new).await? {
            Some(user) => {
                tracing::info!(user_id = %user.id, role = %user.role, "user registered");
                Registration::Created(Box::new(user))
            }
            None => Registration::EmailTaken,
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
        let email = normalize_email(email);
        let user = store::users::find_by_email(&self.db, &email).await?;
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
        if !user.email_verified && !self.rules.allow_unverified_email_login {
            return Err(Error::EmailNotVerified);
        }
        Ok(user)
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

    /// The user with this id, from memory when possible.
    pub async fn user(&self, id: &str) -> Result<Option<Arc<User>>> {
        if let Some(user) = self.cache.get(id) {
            return Ok(Some(user));
        }
        let Some(user) = store::users::find_by_id(&self.db, id).await? else {
            return Ok(None);
        };
        let user = Arc::new(user);
        self.cache.insert(id.to_string(), user.clone());
        Ok(Some(user))
    }

    pub async fn find_by_email(&self, email: &str) -> Result<Option<User>> {
        store::users::find_by_email(&self.db, &normalize_email(email)).await
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
    /// servers refuse their tokens. Returns how many sessions were revoked, or
    /// `UserNotFound`.
    pub async fn delete(&self, user_id: &str) -> Result<usize> {
        let now = self.clock.now_ms();
        let revoked =
            store::users::delete(&self.db, user_id, now, now + self.rules.session_expiry_ms)
                .await?
                .ok_or(Error::UserNotFound)?;
        self.cache.invalidate(user_id);
        tracing::info!(user_id, sessions = revoked.len(), "user deleted");
        Ok(revoked.len())
    }

    /// Sets a new password under the registration rules and ends every session of the user.
    /// Returns how many sessions were revoked.
    pub async fn set_password(&self, user_id: &str, password: &str) -> Result<usize> {
        validate_new_password(password, self.rules.min_password_length)
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
        tracing::info!(user_id, sessions = revoked.len(), "password changed");
        Ok(revoked.len())
    }

    /// Records acceptance of the terms; the first acceptance time is kept.
    pub async fn accept_terms(&self, id: &str) -> Result<i64> {
        let at = store::users::accept_terms(&self.db, id, self.clock.now_ms()).await?;
        self.cache.invalidate(id);
        at.ok_or(Error::UserNotFound)
    }
}
