//! API keys: a user makes, lists and revokes their own; an admin lists and revokes anyone's;
//! the operator's command does both for a named user. The rules: a name, an optional expiry,
//! the scopes (`admin` for ADMINs only), at most `API_KEYS_MAX_PER_USER` live keys, the
//! secret shown once. Each creation and revocation is in the audit log.

use super::Client;
use crate::api_keys::scopes::Scopes;
use crate::api_keys::secret;
use crate::app::AppContext;
use crate::audit::{Event, Kind};
use crate::error::{Error, Result};
use crate::store::api_keys::{ApiKey, NewKey};
use crate::store::users::Role;

const NAME_MAX_CHARS: usize = 100;
/// Ten years: a key that should never expire is asked for without an expiry.
const EXPIRY_MAX_DAYS: i64 = 3650;
const DAY_MS: i64 = 86_400_000;

/// What a creation asks for, as submitted.
#[derive(Debug, Default, Clone)]
pub struct KeyRequest {
    pub name: Option<String>,
    pub expires_in_days: Option<i64>,
    pub scopes: Option<Vec<String>>,
}

/// A key just made: `key` is shown this once and kept nowhere.
pub struct Created {
    pub key: String,
    pub listed: ApiKey,
}

/// Who asks, for the audit log: the owner themselves, an admin, or the operator's command.
#[derive(Debug, Clone, Copy)]
pub struct Acting<'a> {
    pub actor_id: Option<&'a str>,
    pub client: Option<&'a Client>,
}

impl Acting<'_> {
    fn stamp(&self, mut event: Event) -> Event {
        if let Some(actor) = self.actor_id {
            event = event.actor(actor);
        }
        if let Some(client) = self.client {
            event = event.client(client);
        }
        event
    }
}

/// Makes a key for `owner_id`.
pub async fn create(
    ctx: &AppContext,
    owner_id: &str,
    request: KeyRequest,
    acting: Acting<'_>,
) -> Result<Created> {
    let name = valid_name(request.name.as_deref())?;
    let expires_in_days = match request.expires_in_days {
        None => None,
        Some(d) if (1..=EXPIRY_MAX_DAYS).contains(&d) => Some(d),
        Some(_) => {
            return Err(Error::BadRequest(format!(
                "expires_in_days must be a whole number of days from 1 to {EXPIRY_MAX_DAYS}, or absent for a key that does not expire"
            )))
        }
    };
    let scopes = Scopes::requested(request.scopes.as_deref())?;
    let owner = ctx
        .accounts
        .user(owner_id)
        .await?
        .ok_or(Error::UserNotFound)?;
    if owner.disabled_at.is_some() {
        return Err(Error::Forbidden("This account is disabled".into()));
    }
    if scopes.admin && owner.role != Role::Admin {
        return Err(Error::Forbidden(
            "Only an ADMIN may hold an API key with the admin scope".into(),
        ));
    }
    let now = ctx.clock.now_ms();
    let made = secret::generate();
    let digest = hex::encode(made.digest);
    let scopes_json = scopes.to_json();
    let expires_at = expires_in_days.map(|d| now + d * DAY_MS);
    let stored = ctx
        .api_keys
        .insert(&NewKey {
            id: &made.id,
            user_id: &owner.id,
            name: &name,
            prefix: &made.prefix,
            secret_hash: &digest,
            scopes: &scopes_json,
            created_at: now,
            expires_at,
        })
        .await?;
    if !stored {
        return Err(Error::Conflict(format!(
            "At most {} live API keys per user: revoke one first",
            ctx.api_keys.max_per_user
        )));
    }
    tracing::info!(user_id = %owner.id, key_id = %made.id, "API key created");
    ctx.audit.record(
        acting.stamp(
            Event::new(Kind::ApiKeyCreated)
                .user(owner.id.clone())
                .detail("key_id", made.id.clone())
                .detail("name", name.clone())
                .detail("scopes", scopes.names()),
        ),
    );
    Ok(Created {
        key: made.key,
        listed: ApiKey {
            id: made.id,
            user_id: owner.id.clone(),
            email: owner.email.clone(),
            name,
            prefix: made.prefix,
            scopes: scopes_json,
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        },
    })
}

/// Keys, newest first: one user's, or (for an admin) everyone's.
pub async fn list(ctx: &AppContext, user_id: Option<&str>) -> Result<Vec<ApiKey>> {
    crate::store::api_keys::list(&ctx.db, user_id).await
}

/// Revokes a live key; with `owner_id`, only one of that user's (anyone else's answers the
/// same 404 as a key that does not exist).
pub async fn revoke(
    ctx: &AppContext,
    id: &str,
    owner_id: Option<&str>,
    acting: Acting<'_>,
) -> Result<ApiKey> {
    let revoked = ctx
        .api_keys
        .revoke(id, owner_id)
        .await?
        .ok_or_else(|| Error::NotFound("API key not found".into()))?;
    tracing::info!(user_id = %revoked.user_id, key_id = %revoked.id, "API key revoked");
    ctx.audit.record(
        acting.stamp(
            Event::new(Kind::ApiKeyRevoked)
                .user(revoked.user_id.clone())
                .detail("key_id", revoked.id.clone())
                .detail("name", revoked.name.clone()),
        ),
    );
    Ok(revoked)
}

fn valid_name(name: Option<&str>) -> Result<String> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(Error::BadRequest("name is required".into()));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(Error::BadRequest(format!(
            "name must be at most {NAME_MAX_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::BadRequest(
            "name may not contain control characters".into(),
        ));
    }
    Ok(name.to_string())
}
