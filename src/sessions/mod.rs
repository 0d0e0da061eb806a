//! Login sessions: access and refresh tokens, rotation with reuse detection, revocation.
//!
//! A session is one database row per login with an absolute expiry fixed at login. The refresh
//! token is rotated on every use; presenting one that was already rotated means it was copied,
//! so the whole session is revoked. Access tokens name their session (`sid`) and are checked
//! against an in-memory set of revoked sessions: no database round trip per request.

pub mod revocation;
pub mod tokens;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::change_feed::ChangeFeed;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::store::users::{Provider, User};
use crate::store::{self, Db};
use revocation::RevokedSessions;
pub use tokens::{AccessClaims, RefreshClaims, TokenError, TokenKeys, TwoFactorTempClaims};

/// After a rotation, the previous refresh token still earns an access token (but no new
/// refresh token) this long: tabs that refresh at the same moment all present the same token,
/// and only one can win the rotation. Past this window a rotated token is treated as stolen.
pub const REFRESH_REUSE_GRACE_MS: i64 = 10_000;

/// How often a running server reads revocations written by other processes (the
/// user-management commands): their access tokens are refused within this bound.
pub const REVOCATION_SYNC_EVERY_MS: u64 = 500;

/// Each sync re-reads this far behind the newest revocation it has seen, so a transaction that
/// committed late, stamped with an earlier time, is not missed.
const REVOCATION_SYNC_OVERLAP_MS: i64 = 60_000;

/// Which cookie a session lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// LibreChat's `refreshToken` cookie, rotated on every refresh (the JSON API).
    Api,
    /// The sign-in pages' single-sign-on cookie, read by the pages and by forward-auth.
    Browser,
}

/// Where a session was begun: shown to its owner on the account page.
#[derive(Debug, Clone, Copy)]
pub struct Device<'a> {
    pub ip: std::net::IpAddr,
    pub user_agent: Option<&'a str>,
}

/// Longest user agent kept with a session (the rest is cut off).
const MAX_USER_AGENT_CHARS: usize = 256;

/// A browser session's `last_used_at` is written at most this often (forward-auth answers
/// from memory, so it is written in the background).
const BROWSER_TOUCH_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// A provider grant after a refresh: the new refresh token, or `None` when the presented one
/// was rotated a moment ago by a concurrent request (within the grace).
#[derive(Debug, Clone)]
pub struct GrantRotation {
    pub grant: store::sessions::Grant,
    pub refresh_token: Option<String>,
}

/// Tokens handed out by a login or a refresh.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    /// A new refresh token for the cookie; `None` when the presented one was rotated a moment
    /// ago by a concurrent request, whose answer carries the cookie, and for a browser session.
    pub refresh_token: Option<String>,
    /// The single-sign-on cookie of a browser session.
    pub browser_token: Option<String>,
    /// Absolute end of the session (cookie `Expires`).
    pub session_expires_at_ms: i64,
}

pub struct Sessions {
    db: Db,
    keys: TokenKeys,
    revoked: RevokedSessions,
    /// Newest `revoked_at` read from the database (its own values, not this clock's).
    synced_up_to: AtomicI64,
    clock: Arc<dyn Clock>,
    session_expiry_ms: i64,
    refresh_expiry_ms: i64,
    /// Tells other instances about revocations at once (with Redis).
    changes: Arc<ChangeFeed>,
    /// `REQUIRE_2FA`: users without 2FA get enrolment-only access tokens.
    require_2fa: bool,
    /// Browser sessions whose `last_used_at` was written a moment ago.
    touched: moka::sync::Cache<String, ()>,
}

/// `REQUIRE_2FA` confines password accounts (local and LDAP) without 2FA to enrolment. OpenID,
/// SAML and social sign-ins skip the second factor (as in LibreChat), so enrolling could never
/// protect them.
pub fn must_enrol_2fa(require_2fa: bool, user: &User) -> bool {
    require_2fa
        && !user.two_factor_enabled
        && !user.has_passkey
        && matches!(user.provider, Provider::Local | Provider::Ldap)
}

/// How long a login may wait for its second factor (LibreChat: 5 minutes).
const TWO_FACTOR_TEMP_LIFETIME_MS: i64 = 5 * 60 * 1000;

/// SHA-256 of the whole refresh JWT, hex: the only form in which it is stored.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn same_secret(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl Sessions {
    /// Builds the service and loads the revocations still in force.
    pub async fn new(
        db: Db,
        keys: TokenKeys,
        clock: Arc<dyn Clock>,
        session_expiry_ms: i64,
        refresh_expiry_ms: i64,
        changes: Arc<ChangeFeed>,
        require_2fa: bool,
    ) -> Result<Self> {
        let sessions = Self {
            db,
            keys,
            revoked: RevokedSessions::default(),
            synced_up_to: AtomicI64::new(i64::MIN),
            clock,
            session_expiry_ms,
            refresh_expiry_ms,
            changes,
            require_2fa,
            touched: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(BROWSER_TOUCH_EVERY)
                .build(),
        };
        sessions.sync_revocations().await?;
        Ok(sessions)
    }

    /// Reads revocations made by other processes since the last sync into memory. Called at
    /// start and every `REVOCATION_SYNC_EVERY_MS`; returns how many rows were read.
    pub async fn sync_revocations(&self) -> Result<usize> {
        let seen = self.synced_up_to.load(Ordering::Acquire);
        let since = seen.saturating_sub(REVOCATION_SYNC_OVERLAP_MS);
        let rows = store::revocations::since(&self.db, since, self.clock.now_ms()).await?;
        let newest = rows.iter().map(|r| r.revoked_at).max().unwrap_or(seen);
        for row in &rows {
            self.revoked.insert(row.session_id.clone(), row.expires_at);
        }
        self.synced_up_to.fetch_max(newest, Ordering::AcqRel);
        Ok(rows.len())
    }

    /// Starts a session for a user who just proved who they are.
    pub async fn start(
        &self,
        user: &User,
        kind: SessionKind,
        device: Device<'_>,
    ) -> Result<Issued> {
        let now = self.clock.now_ms();
        let session_id = crate::ids::new_object_id(now);
        let expires_at = now + self.refresh_expiry_ms;
        let (long_lived, store_kind) = match kind {
            SessionKind::Api => (
                self.sign_refresh(&user.id, &session_id, now, expires_at)?,
                store::sessions::API,
            ),
            SessionKind::Browser => (
                self.sign_browser(user, &session_id, now, expires_at)?,
                store::sessions::BROWSER,
            ),
        };
        let user_agent = device
            .user_agent
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect::<String>());
        let ip = device.ip.to_string();
        store::sessions::insert(
            &self.db,
            &store::sessions::NewSession {
                id: &session_id,
                user_id: &user.id,
                token_hash: &token_hash(&long_lived),
                kind: store_kind,
                user_agent: user_agent.as_deref(),
                ip: Some(&ip),
                expires_at,
                grant: None,
            },
            now,
        )
        .await?;
        let (refresh_token, browser_token) = match kind {
            SessionKind::Api => (Some(long_lived), None),
            SessionKind::Browser => (None, Some(long_lived)),
        };
        Ok(Issued {
            access_token: self.sign_access(user, &session_id, now, expires_at)?,
            refresh_token,
            browser_token,
            session_expires_at_ms: expires_at,
        })
    }

    /// A user's live sessions, newest first (the account page).
    pub async fn list(&self, user_id: &str) -> Result<Vec<store::sessions::SessionSummary>> {
        store::sessions::list_for_user(&self.db, user_id, self.clock.now_ms()).await
    }

    /// The hot path of the pages and of forward-auth by cookie: a browser session cookie's
    /// signature, expiry and session, in memory only. Its `last_used_at` is written in the
    /// background, at most every few minutes.
    pub fn authenticate_browser(&self, cookie: Option<&str>) -> Result<AccessClaims> {
        let token = cookie.ok_or_else(|| Error::Unauthorized("No auth token".into()))?;
        let claims = self
            .keys
            .verify_browser(token, self.clock.now_ms())
            .map_err(|e| Error::Unauthorized(e.message().into()))?;
        if self.revoked.is_revoked(&claims.sid) {
            return Err(Error::Unauthorized("Session revoked".into()));
        }
        self.touch_in_background(&claims.sid);
        Ok(claims)
    }

    fn touch_in_background(&self, session_id: &str) {
        if self.touched.contains_key(session_id) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.touched.insert(session_id.to_string(), ());
        let db = self.db.clone();
        let id = session_id.to_string();
        let now = self.clock.now_ms();
        runtime.spawn(async move {
            if let Err(e) = store::sessions::touch(&db, &id, now).await {
                tracing::debug!(error = %e, "could not record a browser session's last use");
            }
        });
    }

    /// A fresh cookie for a live browser session, saying what the user is now (after setting
    /// up 2FA under `REQUIRE_2FA`, its enrolment-only scope is gone): same session, same end.
    pub fn renew_browser_cookie(&self, user: &User, current: &AccessClaims) -> Result<String> {
        let now = self.clock.now_ms();
        self.sign_browser(user, &current.sid, now, current.exp.saturating_mul(1000))
    }

    /// Ends the browser session a cookie names (signature checked, expiry not: signing out
    /// with an expired cookie works).
    pub async fn logout_browser(&self, cookie: Option<&str>) -> Result<()> {
        if let Some(claims) = cookie.and_then(|t| self.keys.browser_claims_ignoring_expiry(t).ok())
        {
            self.revoke_session(&claims.sid).await?;
        }
        Ok(())
    }

    /// Checks a refresh token's signature and expiry. The caller then loads the user it names
    /// and calls `rotate`.
    pub fn verify_refresh(&self, token: &str) -> Result<RefreshClaims> {
        self.keys
            .verify_refresh(token, self.clock.now_ms())
            .map_err(|_| Error::RefreshTokenInvalid)
    }

    /// Rotates the session's refresh token (same absolute expiry) and issues a new access
    /// token. A token that was already rotated, outside the grace window, revokes the session.
    pub async fn rotate(
        &self,
        claims: &RefreshClaims,
        token: &str,
        user: &User,
        retry: bool,
    ) -> Result<Issued> {
        let presented = token_hash(token);
        // Two attempts: a lost compare-and-swap means another refresh rotated in between.
        for _ in 0..2 {
            let now = self.clock.now_ms();
            let Some(session) =
                store::sessions::find_live(&self.db, &claims.session_id, &user.id, now).await?
            else {
                return Err(Error::SessionNotFound { retry });
            };
            let current = same_secret(&session.refresh_token_hash, &presented);
            let recent_previous = session
                .previous_token_hash
                .as_deref()
                .is_some_and(|prev| same_secret(prev, &presented))
                && session
                    .rotated_at
                    .is_some_and(|at| now - at <= REFRESH_REUSE_GRACE_MS);
            if !current && !recent_previous {
                tracing::warn!(
                    user_id = %user.id,
                    session_id = %session.id,
                    "rotated refresh token presented again: revoking the session"
                );
                self.revoke_session(&session.id).await?;
                return Err(Error::SessionNotFound { retry });
            }
            if !current {
                // Another request just rotated this token (tabs refreshing together): answer
                // with an access token but no new refresh token, so the browser keeps the
                // cookie the winner set. Rotating here too would orphan that cookie.
                return Ok(Issued {
                    access_token: self.sign_access(user, &session.id, now, session.expires_at)?,
                    refresh_token: None,
                    browser_token: None,
                    session_expires_at_ms: session.expires_at,
                });
            }
            let new_token = self.sign_refresh(&user.id, &session.id, now, session.expires_at)?;
            if store::sessions::rotate(
                &self.db,
                &session.id,
                &session.refresh_token_hash,
                &token_hash(&new_token),
                now,
            )
            .await?
            {
                return Ok(Issued {
                    access_token: self.sign_access(user, &session.id, now, session.expires_at)?,
                    refresh_token: Some(new_token),
                    browser_token: None,
                    session_expires_at_ms: session.expires_at,
                });
            }
        }
        Err(Error::SessionNotFound { retry })
    }

    /// Ends the sessions named by a refresh token and/or an access token. Their signatures are
    /// checked but not their expiry: logging out must work with an expired access token.
    pub async fn logout(
        &self,
        refresh_token: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<()> {
        if let Some(claims) =
            refresh_token.and_then(|t| self.keys.refresh_claims_ignoring_expiry(t).ok())
        {
            self.revoke_session(&claims.session_id).await?;
        }
        if let Some(claims) =
            access_token.and_then(|t| self.keys.access_claims_ignoring_expiry(t).ok())
        {
            self.revoke_session(&claims.sid).await?;
        }
        Ok(())
    }

    /// Deletes one session and refuses its tokens from now on.
    pub async fn revoke_session(&self, session_id: &str) -> Result<()> {
        self.revoke(session_id, None).await.map(|_| ())
    }

    /// Ends one of a user's own sessions (the account page). `false` when the user has no
    /// such session.
    pub async fn revoke_own(&self, user_id: &str, session_id: &str) -> Result<bool> {
        self.revoke(session_id, Some(user_id)).await
    }

    async fn revoke(&self, session_id: &str, owner: Option<&str>) -> Result<bool> {
        let now = self.clock.now_ms();
        let floor = now + self.session_expiry_ms;
        match store::sessions::revoke(&self.db, session_id, owner, now, floor).await? {
            Some(revoked) => {
                self.revoked_elsewhere(&revoked);
                Ok(true)
            }
            None => {
                // Already gone (another instance, an expired row): its tokens stay refused
                // here for as long as an access token could live, for a caller without owner.
                if owner.is_none() {
                    self.revoked.insert(session_id.to_string(), floor);
                }
                Ok(false)
            }
        }
    }

    /// Ends every session of a user (ban, deletion, password change). Returns how many.
    pub async fn revoke_all_for_user(&self, user_id: &str) -> Result<usize> {
        let now = self.clock.now_ms();
        let floor = now + self.session_expiry_ms;
        let revoked = store::sessions::revoke_all_for_user(&self.db, user_id, now, floor).await?;
        self.revoked_elsewhere(&revoked);
        Ok(revoked.len())
    }

    /// Ends a user's provider grants to one client (a withdrawn consent). Returns how many.
    pub async fn revoke_grants_of(&self, user_id: &str, client_id: &str) -> Result<usize> {
        let now = self.clock.now_ms();
        let floor = now + self.session_expiry_ms;
        let revoked =
            store::sessions::revoke_grants_of(&self.db, user_id, client_id, now, floor).await?;
        self.revoked_elsewhere(&revoked);
        Ok(revoked.len())
    }

    /// Refuses at once the tokens of sessions another service revoked in the database (an
    /// emailed password reset), and tells the other instances.
    pub fn revoked_elsewhere(&self, revoked: &[store::sessions::Revoked]) {
        for r in revoked {
            self.revoked.insert(r.id.clone(), r.until);
        }
        if !revoked.is_empty() {
            self.changes.announce();
        }
    }

    /// Whether a session was revoked (memory only): provider access tokens are checked
    /// against the same set as Bouncer's own.
    pub fn is_revoked(&self, session_id: &str) -> bool {
        self.revoked.is_revoked(session_id)
    }

    /// Starts a provider grant under `session_id` (`ids::new_object_id`, chosen by the caller
    /// so its code can name it first): a session of kind `provider` whose refresh token is
    /// opaque (`<session id>.<secret>`) and which ends with its browser session. Returns the
    /// grant's id and refresh token.
    pub async fn start_grant(
        &self,
        session_id: String,
        user_id: &str,
        grant: store::sessions::GrantOf<'_>,
        expires_at: i64,
        device: Device<'_>,
    ) -> Result<(String, String)> {
        let now = self.clock.now_ms();
        let token = format!("{session_id}.{}", crate::ids::random_token());
        let user_agent = device
            .user_agent
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect::<String>());
        let ip = device.ip.to_string();
        store::sessions::insert(
            &self.db,
            &store::sessions::NewSession {
                id: &session_id,
                user_id,
                token_hash: &token_hash(&token),
                kind: store::sessions::PROVIDER,
                user_agent: user_agent.as_deref(),
                ip: Some(&ip),
                expires_at,
                grant: Some(grant),
            },
            now,
        )
        .await?;
        Ok((session_id, token))
    }

    /// Rotates a provider grant's refresh token, with the reuse detection and grace of
    /// `rotate`. `Ok(None)`: no such live grant of this client, or a reuse (the grant is then
    /// revoked).
    pub async fn rotate_grant(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<Option<GrantRotation>> {
        let Some((session_id, _)) = token.split_once('.') else {
            return Ok(None);
        };
        let presented = token_hash(token);
        for _ in 0..2 {
            let now = self.clock.now_ms();
            let Some(grant) = store::sessions::find_live_grant(&self.db, session_id, now).await?
            else {
                return Ok(None);
            };
            // Another client's token is not evidence of theft from this grant: refused as is.
            if grant.client_id != client_id {
                return Ok(None);
            }
            let current = same_secret(&grant.refresh_token_hash, &presented);
            let recent_previous = grant
                .previous_token_hash
                .as_deref()
                .is_some_and(|prev| same_secret(prev, &presented))
                && grant
                    .rotated_at
                    .is_some_and(|at| now - at <= REFRESH_REUSE_GRACE_MS);
            if !current && !recent_previous {
                tracing::warn!(
                    user_id = %grant.user_id,
                    session_id = %grant.id,
                    client_id = %grant.client_id,
                    "rotated provider refresh token presented again: revoking the grant"
                );
                self.revoke_session(&grant.id).await?;
                return Ok(None);
            }
            if !current {
                return Ok(Some(GrantRotation {
                    grant,
                    refresh_token: None,
                }));
            }
            let new_token = format!("{}.{}", grant.id, crate::ids::random_token());
            if store::sessions::rotate(
                &self.db,
                &grant.id,
                &grant.refresh_token_hash,
                &token_hash(&new_token),
                now,
            )
            .await?
            {
                return Ok(Some(GrantRotation {
                    grant,
                    refresh_token: Some(new_token),
                }));
            }
        }
        Ok(None)
    }

    /// The live provider grant a refresh token names, if the token is its current one (for
    /// revocation and introspection; nothing is rotated).
    pub async fn grant_of_refresh_token(
        &self,
        token: &str,
    ) -> Result<Option<store::sessions::Grant>> {
        let Some((session_id, _)) = token.split_once('.') else {
            return Ok(None);
        };
        let now = self.clock.now_ms();
        let grant = store::sessions::find_live_grant(&self.db, session_id, now).await?;
        Ok(grant.filter(|g| same_secret(&g.refresh_token_hash, &token_hash(token))))
    }

    /// A temp token for a user who proved their password and must now give a second factor.
    pub fn issue_two_factor_temp(&self, user_id: &str) -> Result<String> {
        let now = self.clock.now_ms();
        let claims = TwoFactorTempClaims {
            user_id: user_id.to_string(),
            two_fa_pending: true,
            iat: now.div_euclid(1000),
            exp: (now + TWO_FACTOR_TEMP_LIFETIME_MS).div_euclid(1000),
        };
        Ok(self.keys.sign_two_factor_temp(&claims)?)
    }

    /// The user id a temp token names, if it is genuine and not expired.
    pub fn verify_two_factor_temp(&self, token: &str) -> Option<String> {
        self.keys
            .verify_two_factor_temp(token, self.clock.now_ms())
            .ok()
            .map(|c| c.user_id)
    }

    /// The claims of a genuine access token, expired or not (logout needs its provider).
    pub fn access_claims_ignoring_expiry(&self, token: &str) -> Option<AccessClaims> {
        self.keys.access_claims_ignoring_expiry(token).ok()
    }

    /// The hot path: an access token's signature, expiry and session, in memory only.
    pub fn authenticate(&self, bearer: Option<&str>) -> Result<AccessClaims> {
        let token = bearer.ok_or_else(|| Error::Unauthorized("No auth token".into()))?;
        let claims = self
            .keys
            .verify_access(token, self.clock.now_ms())
            .map_err(|e| Error::Unauthorized(e.message().into()))?;
        if self.revoked.is_revoked(&claims.sid) {
            return Err(Error::Unauthorized("Session revoked".into()));
        }
        Ok(claims)
    }

    /// Deletes sessions past their absolute expiry and revocations that no longer matter.
    pub async fn purge_expired(&self) -> Result<u64> {
        let now = self.clock.now_ms();
        let sessions = store::sessions::delete_expired(&self.db, now).await?;
        store::revocations::delete_expired(&self.db, now).await?;
        self.revoked.forget_expired(now);
        Ok(sessions)
    }

    /// What an access token (and a browser cookie) says of its user and session.
    fn identity(&self, user: &User, session_id: &str, now: i64, exp_ms: i64) -> AccessClaims {
        AccessClaims {
            id: user.id.clone(),
            username: user.username.clone(),
            provider: user.provider.to_string(),
            email: user.email.clone(),
            sid: session_id.to_string(),
            role: Some(user.role.to_string()),
            scope: must_enrol_2fa(self.require_2fa, user)
                .then(|| tokens::ENROLMENT_SCOPE.to_string()),
            name: (!user.name.is_empty()).then(|| user.name.clone()),
            typ: None,
            iat: now.div_euclid(1000),
            exp: exp_ms.div_euclid(1000),
        }
    }

    fn sign_access(
        &self,
        user: &User,
        session_id: &str,
        now: i64,
        session_end: i64,
    ) -> Result<String> {
        // Never outlive the session itself.
        let exp_ms = (now + self.session_expiry_ms).min(session_end);
        let claims = self.identity(user, session_id, now, exp_ms);
        Ok(self.keys.sign_access(&claims)?)
    }

    /// A browser session's cookie: the access token's identity, for the session's whole life.
    fn sign_browser(
        &self,
        user: &User,
        session_id: &str,
        now: i64,
        session_end: i64,
    ) -> Result<String> {
        Ok(self.keys.sign_browser(&AccessClaims {
            typ: Some(tokens::BROWSER_TYP.to_string()),
            ..self.identity(user, session_id, now, session_end)
        })?)
    }

    fn sign_refresh(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
        session_end: i64,
    ) -> Result<String> {
        let claims = RefreshClaims {
            id: user_id.to_string(),
            session_id: session_id.to_string(),
            jti: crate::ids::random_hex(16),
            iat: now.div_euclid(1000),
            exp: session_end.div_euclid(1000),
        };
        Ok(self.keys.sign_refresh(&claims)?)
    }
}
