//! Passkeys (WebAuthn) through webauthn-rs: the relying party built from the configuration,
//! the three ceremonies (registration, sign-in with a discoverable credential, second factor)
//! with their state kept server-side (`ceremony`), and the signature counter, which may only
//! go forward. No HTTP here, and no rule of who may do what: that is `usecases::passkeys`.

pub mod ceremony;

use std::sync::Arc;

use base64::Engine;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use crate::accounts::CachedUsers;
use crate::clock::Clock;
use crate::config::passkeys::PasskeysConfig;
use crate::error::{Error, Result};
use crate::store::passkeys::{self as store, StoredPasskey};
use crate::store::Db;
use ceremony::Purpose;

/// The most passkeys one account may hold.
pub const MAX_PER_USER: u64 = 20;
/// The longest name a passkey may be given (characters).
pub const NAME_MAX: usize = 64;

/// The one message of every refused assertion: an unknown credential, a bad signature, a
/// wrong origin or RP id, a replay, a counter gone backwards, alike (no enumeration; the log
/// and the audit say which).
pub const PASSKEY_REFUSED: &str = "The passkey was not accepted";
pub const MALFORMED: &str = "Invalid passkey response";

/// Why an assertion was refused, for the log and the audit (never the client).
#[derive(Debug)]
pub struct Refusal {
    pub reason: &'static str,
    /// The account the credential belongs to, when it is known.
    pub user_id: Option<String>,
    pub error: Error,
}

impl Refusal {
    fn new(reason: &'static str, user_id: Option<&str>) -> Self {
        Self {
            reason,
            user_id: user_id.map(str::to_string),
            error: Error::Unauthorized(PASSKEY_REFUSED.into()),
        }
    }
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        let reason = match &error {
            Error::Unauthorized(_) => "ceremony",
            Error::BadRequest(_) => "malformed",
            _ => "error",
        };
        Self {
            reason,
            user_id: None,
            error,
        }
    }
}

/// Who asks for a ceremony, as the moderation keys IPs (an IPv6 address by its prefix).
pub fn client_key(ip: std::net::IpAddr, ipv6_prefix_length: u8) -> String {
    crate::moderation::ip_prefix::subject_text(crate::moderation::ip_prefix::client_net(
        ip,
        ipv6_prefix_length,
    ))
}

/// Options for the browser, and the id of the ceremony they begin.
pub struct Started<T> {
    pub ceremony: String,
    pub options: T,
}

pub struct Passkeys {
    webauthn: Webauthn,
    db: Db,
    clock: Arc<dyn Clock>,
    /// Whether a user has a passkey is part of the user (a second factor): the cached copy is
    /// dropped when that changes.
    users: CachedUsers,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn parse<T: serde::de::DeserializeOwned>(credential: Option<&str>) -> Result<T> {
    credential
        .and_then(|c| serde_json::from_str(c).ok())
        .ok_or_else(|| Error::BadRequest(MALFORMED.into()))
}

fn stored_key(p: &StoredPasskey) -> Result<Passkey> {
    serde_json::from_str(&p.credential).map_err(|e| Error::Internal(e.into()))
}

impl Passkeys {
    pub fn new(
        config: &PasskeysConfig,
        db: Db,
        clock: Arc<dyn Clock>,
        users: CachedUsers,
    ) -> anyhow::Result<Self> {
        let (first, rest) = config
            .origins
            .split_first()
            .ok_or_else(|| anyhow::anyhow!("passkeys need an origin"))?;
        let mut builder = WebauthnBuilder::new(&config.rp_id, first)
            .map_err(|e| anyhow::anyhow!("passkeys: RP id {}: {e}", config.rp_id))?
            .rp_name(&config.rp_name);
        for origin in rest {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder
            .build()
            .map_err(|e| anyhow::anyhow!("passkeys: {e}"))?;
        Ok(Self {
            webauthn,
            db,
            clock,
            users,
        })
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Begins registering a passkey for the user. The authenticator is asked for a
    /// discoverable credential, so that the passkey can sign in without an email.
    pub async fn start_registration(
        &self,
        client: &str,
        user_id: &str,
        email: &str,
        display_name: &str,
    ) -> Result<Started<CreationChallengeResponse>> {
        let existing = store::for_user(&self.db, user_id).await?;
        if existing.len() as u64 >= MAX_PER_USER {
            return Err(Error::Conflict(format!(
                "At most {MAX_PER_USER} passkeys per account"
            )));
        }
        // Every passkey of a user carries the same random handle: the account id never
        // reaches an authenticator.
        let handle = match existing.first() {
            Some(p) => Uuid::parse_str(&p.user_handle).map_err(|e| Error::Internal(e.into()))?,
            None => Uuid::new_v4(),
        };
        let exclude = existing
            .iter()
            .map(|p| stored_key(p).map(|k| k.cred_id().clone()))
            .collect::<Result<Vec<_>>>()?;
        let (options, state) = self
            .webauthn
            .start_passkey_registration(handle, email, display_name, Some(exclude))
            .map_err(|e| Error::Internal(anyhow::anyhow!("passkey registration: {e}")))?;
        let options = discoverable(options)?;
        let stored = RegistrationState {
            handle: handle.to_string(),
            state,
        };
        let ceremony = ceremony::begin(
            &self.db,
            Purpose::Register,
            Some(user_id),
            client,
            &stored,
            self.now(),
        )
        .await?;
        Ok(Started { ceremony, options })
    }

    /// Finishes a registration: the authenticator's answer checked against the ceremony's
    /// challenge, origin and RP id, then stored under `name`.
    pub async fn finish_registration(
        &self,
        user_id: &str,
        ceremony_id: Option<&str>,
        credential: Option<&str>,
        name: &str,
    ) -> Result<StoredPasskey> {
        let state: RegistrationState = ceremony::take(
            &self.db,
            ceremony_id,
            Purpose::Register,
            Some(user_id),
            self.now(),
        )
        .await?;
        let response: RegisterPublicKeyCredential = parse(credential)?;
        let key = self
            .webauthn
            .finish_passkey_registration(&response, &state.state)
            .map_err(|e| {
                tracing::info!(%user_id, error = %e, "passkey registration refused");
                Error::BadRequest(format!("The passkey could not be registered: {e}"))
            })?;
        let credential_id = b64(key.cred_id());
        if store::by_credential_id(&self.db, &credential_id)
            .await?
            .is_some()
        {
            return Err(Error::Conflict("This passkey is already registered".into()));
        }
        let now = self.now();
        let row = StoredPasskey {
            id: crate::ids::random_hex(8),
            user_id: user_id.to_string(),
            credential_id,
            user_handle: state.handle,
            name: name.to_string(),
            credential: serde_json::to_string(&key).map_err(|e| Error::Internal(e.into()))?,
            counter: 0,
            created_at: now,
            last_used_at: None,
        };
        if !store::insert(&self.db, &row, MAX_PER_USER).await? {
            return Err(Error::Conflict(format!(
                "At most {MAX_PER_USER} passkeys per account"
            )));
        }
        self.users.forget(user_id);
        Ok(row)
    }

    /// Begins a sign-in with any passkey of this site (a discoverable credential: the
    /// authenticator says whose). `conditional`: for the browser's autofill (conditional UI)
    /// rather than a dialog.
    pub async fn start_sign_in(
        &self,
        client: &str,
        conditional: bool,
    ) -> Result<Started<RequestChallengeResponse>> {
        let (mut options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| Error::Internal(anyhow::anyhow!("passkey sign-in: {e}")))?;
        if !conditional {
            options.mediation = None;
        }
        let ceremony =
            ceremony::begin(&self.db, Purpose::SignIn, None, client, &state, self.now()).await?;
        Ok(Started { ceremony, options })
    }

    /// Finishes a sign-in: the passkey the assertion names, checked; the account it is of.
    pub async fn finish_sign_in(
        &self,
        ceremony_id: Option<&str>,
        credential: Option<&str>,
    ) -> Result<StoredPasskey, Refusal> {
        let state: DiscoverableAuthentication =
            ceremony::take(&self.db, ceremony_id, Purpose::SignIn, None, self.now()).await?;
        let response: PublicKeyCredential = parse(credential)?;
        let (handle, credential_id) = self
            .webauthn
            .identify_discoverable_authentication(&response)
            .map_err(|_| Refusal::new("no_user_handle", None))?;
        let stored = store::by_credential_id(&self.db, &b64(credential_id))
            .await?
            .ok_or_else(|| Refusal::new("unknown_credential", None))?;
        // The handle the authenticator returned must be the one registered with the key.
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            handle.to_string().as_bytes(),
            stored.user_handle.as_bytes(),
        )) {
            return Err(Refusal::new("user_handle_mismatch", Some(&stored.user_id)));
        }
        let key = stored_key(&stored)?;
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(&response, state, &key)
            .map_err(|e| self.refused(&stored, e))?;
        self.record_use(stored, key, &result).await
    }

    /// Begins the second step of a sign-in with one of the user's passkeys. `None`: they have
    /// none.
    pub async fn start_second_factor(
        &self,
        client: &str,
        user_id: &str,
    ) -> Result<Option<Started<RequestChallengeResponse>>> {
        let keys = store::for_user(&self.db, user_id)
            .await?
            .iter()
            .map(stored_key)
            .collect::<Result<Vec<_>>>()?;
        if keys.is_empty() {
            return Ok(None);
        }
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&keys)
            .map_err(|e| Error::Internal(anyhow::anyhow!("passkey second factor: {e}")))?;
        let ceremony = ceremony::begin(
            &self.db,
            Purpose::SecondFactor,
            Some(user_id),
            client,
            &state,
            self.now(),
        )
        .await?;
        Ok(Some(Started { ceremony, options }))
    }

    /// Finishes the second step: an assertion by one of this user's passkeys.
    pub async fn finish_second_factor(
        &self,
        user_id: &str,
        ceremony_id: Option<&str>,
        credential: Option<&str>,
    ) -> Result<StoredPasskey, Refusal> {
        let state: PasskeyAuthentication = ceremony::take(
            &self.db,
            ceremony_id,
            Purpose::SecondFactor,
            Some(user_id),
            self.now(),
        )
        .await?;
        let response: PublicKeyCredential = parse(credential)?;
        let stored = store::by_credential_id(&self.db, &b64(response.get_credential_id()))
            .await?
            .filter(|p| p.user_id == user_id)
            .ok_or_else(|| Refusal::new("unknown_credential", Some(user_id)))?;
        let key = stored_key(&stored)?;
        let result = self
            .webauthn
            .finish_passkey_authentication(&response, &state)
            .map_err(|e| self.refused(&stored, e))?;
        self.record_use(stored, key, &result).await
    }

    fn refused(&self, stored: &StoredPasskey, e: WebauthnError) -> Refusal {
        let reason = match e {
            WebauthnError::CredentialPossibleCompromise => {
                // A counter at or below the stored one: a cloned authenticator or a replay.
                tracing::warn!(
                    user_id = %stored.user_id,
                    passkey = %stored.id,
                    "passkey refused: its signature counter went backwards (cloned or replayed)"
                );
                "counter"
            }
            WebauthnError::InvalidRPOrigin => "origin",
            WebauthnError::InvalidRPIDHash => "rp_id",
            WebauthnError::MismatchedChallenge => "challenge",
            _ => "verification",
        };
        if reason != "counter" {
            tracing::info!(user_id = %stored.user_id, passkey = %stored.id, error = %e, "passkey assertion refused");
        }
        Refusal::new(reason, Some(&stored.user_id))
    }

    /// Stores the counter an accepted assertion reported. The check and the write are one
    /// statement against the counter read, so two uses of one assertion at once cannot both
    /// pass.
    async fn record_use(
        &self,
        stored: StoredPasskey,
        mut key: Passkey,
        result: &webauthn_rs::prelude::AuthenticationResult,
    ) -> Result<StoredPasskey, Refusal> {
        let counter = i64::from(result.counter());
        if (counter > 0 || stored.counter > 0) && counter <= stored.counter {
            tracing::warn!(
                user_id = %stored.user_id,
                passkey = %stored.id,
                "passkey refused: its signature counter went backwards (cloned or replayed)"
            );
            return Err(Refusal::new("counter", Some(&stored.user_id)));
        }
        key.update_credential(result);
        let credential = serde_json::to_string(&key).map_err(|e| Error::Internal(e.into()))?;
        let now = self.now();
        if !store::record_use(
            &self.db,
            &stored.id,
            stored.counter,
            counter,
            &credential,
            now,
        )
        .await?
        {
            tracing::warn!(user_id = %stored.user_id, passkey = %stored.id, "passkey refused: used twice at once");
            return Err(Refusal::new("counter", Some(&stored.user_id)));
        }
        Ok(StoredPasskey {
            counter,
            credential,
            last_used_at: Some(now),
            ..stored
        })
    }

    pub async fn list(&self, user_id: &str) -> Result<Vec<StoredPasskey>> {
        store::for_user(&self.db, user_id).await
    }

    pub async fn count(&self, user_id: &str) -> Result<i64> {
        store::count_for_user(&self.db, user_id).await
    }

    pub async fn rename(&self, user_id: &str, id: &str, name: &str) -> Result<bool> {
        store::rename(&self.db, user_id, id, name).await
    }

    pub async fn remove(&self, user_id: &str, id: &str) -> Result<Option<StoredPasskey>> {
        let removed = store::delete(&self.db, user_id, id).await?;
        self.users.forget(user_id);
        Ok(removed)
    }
}

/// The options, asking for a discoverable credential (webauthn-rs leaves that to the
/// authenticator); the state does not depend on it.
fn discoverable(options: CreationChallengeResponse) -> Result<CreationChallengeResponse> {
    let mut json = serde_json::to_value(options).map_err(|e| Error::Internal(e.into()))?;
    json["publicKey"]["authenticatorSelection"]["residentKey"] = "required".into();
    json["publicKey"]["authenticatorSelection"]["requireResidentKey"] = true.into();
    serde_json::from_value(json).map_err(|e| Error::Internal(e.into()))
}

/// A registration's state with the user handle it gives the new passkey.
#[derive(serde::Serialize, serde::Deserialize)]
struct RegistrationState {
    handle: String,
    state: PasskeyRegistration,
}
