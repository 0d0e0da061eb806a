//! A ceremony's state between its two requests: stored server-side under the digest of a
//! random id that only the client which asked holds, for one purpose (and, but for a sign-in,
//! one user), for a few minutes, and taken at most once.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::{passkeys as store, Db};

/// How long a client has between the options and the result: the authenticator's own timeout
/// (webauthn-rs asks for five minutes) and a little more.
pub const LIFETIME_MS: i64 = 6 * 60 * 1000;

/// How many ceremonies one client (an IP, or its IPv6 prefix) may have open at once: the
/// sign-in options are anonymous, and each is a row until it lapses.
pub const MAX_LIVE_PER_CLIENT: u64 = 100;
pub const TOO_MANY: &str =
    "Too many passkey requests from this address, try again in a few minutes";

/// The message of every refused ceremony id: unknown, used, lapsed, another purpose's or
/// another user's, alike.
pub const INVALID_CEREMONY: &str = "Invalid or expired passkey challenge";

/// What a ceremony is for. A ceremony's state serves only its own purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Register,
    SignIn,
    SecondFactor,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "sign_in",
            Purpose::SecondFactor => "second_factor",
        }
    }
}

fn digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Stores `state` for `client` and returns the id the client is to send back.
pub async fn begin<S: Serialize>(
    db: &Db,
    purpose: Purpose,
    user_id: Option<&str>,
    client: &str,
    state: &S,
    now_ms: i64,
) -> Result<String> {
    let id = crate::ids::random_token();
    let state = serde_json::to_string(state).map_err(|e| Error::Internal(e.into()))?;
    let digest = digest(&id);
    let ceremony = store::NewCeremony {
        id_digest: &digest,
        purpose: purpose.as_str(),
        user_id,
        state: &state,
        expires_at: now_ms + LIFETIME_MS,
        client,
    };
    if !store::insert_ceremony(db, &ceremony, MAX_LIVE_PER_CLIENT, now_ms).await? {
        return Err(Error::RateLimited(TOO_MANY.into()));
    }
    Ok(id)
}

/// Takes the ceremony `id` names if it is live, of `purpose`, and (when given) `user_id`'s.
/// Taking it consumes it whatever follows: a second try needs new options.
pub async fn take<S: DeserializeOwned>(
    db: &Db,
    id: Option<&str>,
    purpose: Purpose,
    user_id: Option<&str>,
    now_ms: i64,
) -> Result<S> {
    let refused = || Error::Unauthorized(INVALID_CEREMONY.into());
    let id = id
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .ok_or_else(refused)?;
    let stored = store::take_ceremony(db, &digest(id))
        .await?
        .ok_or_else(refused)?;
    if stored.purpose != purpose.as_str()
        || stored.expires_at <= now_ms
        || stored.user_id.as_deref() != user_id
    {
        return Err(refused());
    }
    serde_json::from_str(&stored.state).map_err(|e| Error::Internal(e.into()))
}
