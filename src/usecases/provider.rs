//! The OpenID provider's use cases: an app's authorization request (behind the sign-in pages),
//! the token endpoint's two grants, userinfo, revocation, introspection and RP-initiated
//! logout. Same order of checks as everywhere: bans, then the limiter, then the work.
//!
//! The grants are sessions of kind `provider`, children of the browser session they were
//! signed in with: they end with it, and with every session of their user (ban, password
//! change or reset, deletion).

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::Client;
use crate::app::AppContext;
use crate::error::{oauth, Error, OAuthError, Result};
use crate::moderation::Subject;
use crate::provider::clients::RegisteredClient;
use crate::provider::scopes::Scopes;
use crate::provider::tokens::{self, IdTokenFacts, ProviderAccessClaims};
use crate::provider::{pkce, Provider};
use crate::sessions::AccessClaims;
use crate::store::{self, users::User};

/// The parameters of an authorization request (query string), as sent.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct AuthorizeRequest {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    /// Bouncer's own: the sign-in this request sent the browser to began after this time (ms)
    /// — set when `prompt=login` or `max_age` asked for a fresh sign-in, so the request,
    /// coming back, does not ask again.
    pub signed_in_after: Option<i64>,
}

/// Longest value of any one parameter (a state or nonce longer than this is not an app's).
const MAX_PARAM_LEN: usize = 2048;

/// What the browser is shown or sent to next.
#[derive(Debug)]
pub enum Authorize {
    /// Back to the app: with a code, or with an error (`error`, `state`, `iss`).
    Redirect(String),
    /// The request names no registered client or redirect URI: it must not be redirected
    /// anywhere. The message is for the person in front of the browser.
    Refuse(String),
    /// Sign in first. `again`: also when already signed in (`prompt=login`, `max_age`).
    SignIn {
        login_hint: Option<String>,
        again: bool,
        come_back: AuthorizeRequest,
    },
    /// The session may only set up 2FA (`REQUIRE_2FA`): do that first.
    EnrolSecondFactor,
    /// Ask the user to allow the app these scopes.
    Consent {
        client: Arc<RegisteredClient>,
        scopes: Scopes,
        request: AuthorizeRequest,
    },
}

fn too_long(req: &AuthorizeRequest) -> bool {
    [
        &req.response_type,
        &req.client_id,
        &req.redirect_uri,
        &req.scope,
        &req.state,
        &req.nonce,
        &req.code_challenge,
        &req.code_challenge_method,
        &req.prompt,
        &req.max_age,
        &req.login_hint,
        &req.response_mode,
    ]
    .iter()
    .any(|v| v.as_deref().is_some_and(|v| v.len() > MAX_PARAM_LEN))
}

/// `redirect_uri` with `params` added to its query (what it had is kept).
fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (k, v) in params {
                    query.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => redirect_uri.to_string(),
    }
}

fn error_redirect(
    provider: &Provider,
    redirect_uri: &str,
    state: Option<&str>,
    code: &str,
    description: &str,
) -> Authorize {
    let mut params = vec![("error", code), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", &provider.config.issuer));
    Authorize::Redirect(redirect_with(redirect_uri, &params))
}

/// The authorization endpoint (Core §3.1.2): checks the request, then who is signed in, then
/// consent, and issues a code. `session` is the browser session as the pages read it (valid,
/// not revoked, not banned).
pub async fn authorize(
    ctx: &AppContext,
    session: Option<&AccessClaims>,
    req: AuthorizeRequest,
) -> Result<Authorize> {
    let provider = &ctx.provider;
    if too_long(&req) {
        return Ok(Authorize::Refuse("The request is too long.".into()));
    }
    let Some(client_id) = req.client_id.as_deref() else {
        return Ok(Authorize::Refuse("The request names no client_id.".into()));
    };
    let Some(client) = provider.clients.get(client_id).await? else {
        return Ok(Authorize::Refuse(
            "The app that sent you here is not registered with this server.".into(),
        ));
    };
    let Some(redirect_uri) = req
        .redirect_uri
        .as_deref()
        .filter(|uri| client.redirect_uri_registered(uri))
    else {
        return Ok(Authorize::Refuse(
            "The app asked to send you to an address it has not registered.".into(),
        ));
    };
    let redirect_uri = redirect_uri.to_string();
    let state = req.state.clone();
    let fail = |code: &str, description: &str| {
        Ok(error_redirect(
            provider,
            &redirect_uri,
            state.as_deref(),
            code,
            description,
        ))
    };

    if req.request.is_some() {
        return fail("request_not_supported", "request objects are not supported");
    }
    if req.request_uri.is_some() {
        return fail("request_uri_not_supported", "request_uri is not supported");
    }
    if req.response_mode.as_deref().is_some_and(|m| m != "query") {
        return fail("invalid_request", "response_mode must be query");
    }
    if req.response_type.as_deref() != Some("code") {
        return fail(
            "unsupported_response_type",
            "only the authorization code flow (response_type=code) is supported",
        );
    }
    let scopes = Scopes::parse(req.scope.as_deref().unwrap_or(""));
    if !scopes.openid {
        return fail("invalid_scope", "scope must include openid");
    }
    match (
        req.code_challenge.as_deref(),
        req.code_challenge_method.as_deref(),
    ) {
        (None, None) if client.is_public() => {
            return fail(
                "invalid_request",
                "a public client must use PKCE (code_challenge with S256)",
            );
        }
        (None, None) => {}
        (Some(challenge), Some("S256")) if pkce::valid_challenge(challenge) => {}
        (Some(_), Some("S256")) => return fail("invalid_request", "invalid code_challenge"),
        (None, Some(_)) => return fail("invalid_request", "code_challenge is missing"),
        (Some(_), _) => {
            return fail(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not supported)",
            )
        }
    }
    let prompts: Vec<&str> = req
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return fail(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        );
    }
    let max_age_s = match req.max_age.as_deref() {
        None | Some("") => None,
        Some(raw) => match raw.parse::<u32>() {
            Ok(s) => Some(i64::from(s)),
            Err(_) => {
                return fail(
                    "invalid_request",
                    "max_age must be a whole number of seconds",
                )
            }
        },
    };

    // Who is signed in, and since when.
    let now = ctx.clock.now_ms();
    let sign_in = |again: bool| {
        let mut come_back = req.clone();
        come_back.signed_in_after = again.then_some(now);
        Authorize::SignIn {
            login_hint: req.login_hint.clone(),
            again,
            come_back,
        }
    };
    let Some(session) = session else {
        if prompt_none {
            return fail("login_required", "no one is signed in");
        }
        return Ok(sign_in(false));
    };
    if session.scope.is_some() {
        if prompt_none {
            return fail(
                "interaction_required",
                "two-factor authentication must be set up first",
            );
        }
        return Ok(Authorize::EnrolSecondFactor);
    }
    let span = store::sessions::live_span(&ctx.db, &session.sid, &session.id, now).await?;
    let (Some((auth_time_ms, _)), Some(user)) = (span, ctx.accounts.user(&session.id).await?)
    else {
        if prompt_none {
            return fail("login_required", "no one is signed in");
        }
        return Ok(sign_in(false));
    };
    let fresh_enough = req.signed_in_after.is_some_and(|t| auth_time_ms >= t);
    let too_old = max_age_s.is_some_and(|s| now - auth_time_ms > s * 1000);
    if !fresh_enough && (prompts.contains(&"login") || too_old) {
        if prompt_none {
            return fail("login_required", "a fresh sign-in is needed");
        }
        return Ok(sign_in(true));
    }

    if !client.first_party {
        let granted = store::oidc_consents::granted(&ctx.db, &user.id, &client.id).await?;
        let covered = granted.is_some_and(|g| scopes.within(&Scopes::parse(&g)));
        if !covered || prompts.contains(&"consent") {
            if prompt_none {
                return fail("consent_required", "the user has not allowed this app yet");
            }
            return Ok(Authorize::Consent {
                client,
                scopes,
                request: req,
            });
        }
    }

    let code = issue_code(
        ctx,
        &client,
        &user,
        session,
        &redirect_uri,
        &scopes,
        &req,
        auth_time_ms,
    )
    .await?;
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = state.as_deref() {
        params.push(("state", state));
    }
    params.push(("iss", &provider.config.issuer));
    Ok(Authorize::Redirect(redirect_with(&redirect_uri, &params)))
}

/// The user's answer on the consent page: allowing records the consent and goes on with the
/// request; refusing sends `access_denied` back to the app.
pub async fn consent(
    ctx: &AppContext,
    session: Option<&AccessClaims>,
    req: AuthorizeRequest,
    allow: bool,
) -> Result<Authorize> {
    let (Some(session), Some(client_id)) = (session, req.client_id.as_deref()) else {
        return authorize(ctx, session, req).await;
    };
    let Some(client) = ctx.provider.clients.get(client_id).await? else {
        return authorize(ctx, Some(session), req).await;
    };
    let redirect_ok = req
        .redirect_uri
        .as_deref()
        .is_some_and(|uri| client.redirect_uri_registered(uri));
    if !redirect_ok || session.scope.is_some() {
        return authorize(ctx, Some(session), req).await;
    }
    if !allow {
        return Ok(error_redirect(
            &ctx.provider,
            req.redirect_uri.as_deref().unwrap_or_default(),
            req.state.as_deref(),
            "access_denied",
            "the user did not allow the app",
        ));
    }
    let asked = Scopes::parse(req.scope.as_deref().unwrap_or(""));
    let previously = store::oidc_consents::granted(&ctx.db, &session.id, &client.id)
        .await?
        .map(|g| Scopes::parse(&g))
        .unwrap_or_default();
    let union = Scopes {
        openid: asked.openid || previously.openid,
        profile: asked.profile || previously.profile,
        email: asked.email || previously.email,
        offline_access: asked.offline_access || previously.offline_access,
    };
    store::oidc_consents::grant(
        &ctx.db,
        &session.id,
        &client.id,
        &union.to_string(),
        ctx.clock.now_ms(),
    )
    .await?;
    // Consent was just given: asking again (`prompt=consent`) would loop.
    let mut req = req;
    req.prompt = req.prompt.map(|p| {
        p.split(' ')
            .filter(|v| *v != "consent")
            .collect::<Vec<_>>()
            .join(" ")
    });
    authorize(ctx, Some(session), req).await
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[allow(clippy::too_many_arguments)]
async fn issue_code(
    ctx: &AppContext,
    client: &RegisteredClient,
    user: &User,
    session: &AccessClaims,
    redirect_uri: &str,
    scopes: &Scopes,
    req: &AuthorizeRequest,
    auth_time_ms: i64,
) -> Result<String> {
    let code = crate::ids::random_token();
    let now = ctx.clock.now_ms();
    store::oidc_codes::insert(
        &ctx.db,
        &store::oidc_codes::NewCode {
            code_hash: &hash(&code),
            client_id: &client.id,
            user_id: &user.id,
            browser_session_id: &session.sid,
            redirect_uri,
            scope: &scopes.to_string(),
            nonce: req.nonce.as_deref(),
            code_challenge: req.code_challenge.as_deref(),
            auth_time: auth_time_ms,
            expires_at: now + ctx.provider.config.code_expiry_ms,
        },
    )
    .await?;
    Ok(code)
}

/// How a client authenticated at the token, revocation or introspection endpoint.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    /// `None`: a public client (`token_endpoint_auth_method=none`).
    pub secret: Option<String>,
}

/// Bans, the token endpoint's limiter (per client and IP), then the client's credentials.
async fn authenticate_client(
    ctx: &AppContext,
    client: &Client,
    credentials: &ClientCredentials,
) -> Result<Arc<RegisteredClient>> {
    ctx.moderation.check(client.ip, None)?;
    ctx.moderation
        .limit_within(
            &ctx.moderation.limiters.oidc_token,
            &credentials.client_id,
            Subject::Ip(client.ip),
        )
        .await?;
    let invalid = || oauth("invalid_client", "client authentication failed");
    let Some(registered) = ctx.provider.clients.get(&credentials.client_id).await? else {
        return invalid();
    };
    match (&credentials.secret, registered.is_public()) {
        (None, true) => Ok(registered),
        (Some(secret), false) if ctx.provider.clients.check_secret(&registered, secret).await => {
            Ok(registered)
        }
        _ => invalid(),
    }
}

/// A token endpoint request's fields (RFC 6749 §4.1.3, §6).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

/// A successful token response (RFC 6749 §5.1, Core §3.1.3.3).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

pub async fn token(
    ctx: &AppContext,
    client: &Client,
    credentials: &ClientCredentials,
    req: TokenRequest,
) -> Result<TokenResponse> {
    let registered = authenticate_client(ctx, client, credentials).await?;
    match req.grant_type.as_deref() {
        Some("authorization_code") => redeem_code(ctx, client, &registered, req).await,
        Some("refresh_token") => refresh(ctx, client, &registered, req).await,
        Some(_) => oauth(
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
        None => oauth("invalid_request", "grant_type is missing"),
    }
}

async fn redeem_code(
    ctx: &AppContext,
    client: &Client,
    registered: &RegisteredClient,
    req: TokenRequest,
) -> Result<TokenResponse> {
    let (Some(code), Some(redirect_uri)) = (req.code.as_deref(), req.redirect_uri.as_deref())
    else {
        return oauth("invalid_request", "code and redirect_uri are required");
    };
    let code_hash = hash(code);
    let now = ctx.clock.now_ms();
    // The grant's id is written with the redemption, so a reuse finds what to revoke.
    let grant_id = crate::ids::new_object_id(now);
    let Some(stored) = store::oidc_codes::redeem(&ctx.db, &code_hash, &grant_id, now).await? else {
        if let Some(used) = store::oidc_codes::find(&ctx.db, &code_hash).await? {
            // A code presented twice was copied: whatever it bought is revoked.
            tracing::warn!(
                client_id = %used.client_id,
                user_id = %used.user_id,
                "authorization code presented again: revoking its tokens"
            );
            if let Some(grant) = used.grant_session_id.as_deref() {
                ctx.sessions.revoke_session(grant).await?;
            }
        }
        return oauth("invalid_grant", "the code is invalid or was already used");
    };
    if stored.expires_at <= now {
        return oauth("invalid_grant", "the code has expired");
    }
    if stored.client_id != registered.id || stored.redirect_uri != redirect_uri {
        return oauth(
            "invalid_grant",
            "the code was issued to another client or redirect_uri",
        );
    }
    match (
        stored.code_challenge.as_deref(),
        req.code_verifier.as_deref(),
    ) {
        (Some(challenge), Some(verifier)) if pkce::s256_matches(verifier, challenge) => {}
        (None, None) => {}
        (Some(_), _) => return oauth("invalid_grant", "code_verifier does not match"),
        (None, Some(_)) => {
            return oauth(
                "invalid_grant",
                "code_verifier sent for a code issued without code_challenge",
            )
        }
    }
    let user = live_user(ctx, client, &stored.user_id).await?;
    let Some((_, session_end)) =
        store::sessions::live_span(&ctx.db, &stored.browser_session_id, &user.id, now).await?
    else {
        return oauth("invalid_grant", "the sign-in behind the code has ended");
    };
    let (grant_id, refresh_token) = ctx
        .sessions
        .start_grant(
            grant_id,
            &user.id,
            store::sessions::GrantOf {
                client_id: &registered.id,
                scope: &stored.scope,
                parent_id: &stored.browser_session_id,
                auth_time: stored.auth_time,
            },
            session_end,
            client.device(),
        )
        .await?;
    // The browser session may have ended while the grant was written; then the grant must not
    // outlive it.
    if store::sessions::live_span(&ctx.db, &stored.browser_session_id, &user.id, now)
        .await?
        .is_none()
    {
        ctx.sessions.revoke_session(&grant_id).await?;
        return oauth("invalid_grant", "the sign-in behind the code has ended");
    }
    let scopes = Scopes::parse(&stored.scope);
    respond(
        ctx,
        registered,
        &user,
        &scopes,
        &grant_id,
        stored.auth_time,
        stored.nonce.as_deref(),
        Some(refresh_token),
    )
}

async fn refresh(
    ctx: &AppContext,
    client: &Client,
    registered: &RegisteredClient,
    req: TokenRequest,
) -> Result<TokenResponse> {
    let Some(token) = req.refresh_token.as_deref() else {
        return oauth("invalid_request", "refresh_token is required");
    };
    let Some(rotation) = ctx.sessions.rotate_grant(token, &registered.id).await? else {
        return oauth(
            "invalid_grant",
            "the refresh token is invalid, expired or revoked",
        );
    };
    let grant = &rotation.grant;
    let user = live_user(ctx, client, &grant.user_id).await?;
    let granted = Scopes::parse(&grant.scope);
    let scopes = match req.scope.as_deref() {
        Some(asked) => {
            let asked = Scopes::parse(asked);
            if !asked.within(&granted) {
                return oauth("invalid_scope", "more scope than was granted");
            }
            asked
        }
        None => granted,
    };
    respond(
        ctx,
        registered,
        &user,
        &scopes,
        &grant.id,
        grant.auth_time,
        None,
        rotation.refresh_token,
    )
}

/// The user behind a grant, if they still exist and are not banned.
async fn live_user(ctx: &AppContext, client: &Client, user_id: &str) -> Result<Arc<User>> {
    let Some(user) = ctx.accounts.user(user_id).await? else {
        return oauth("invalid_grant", "the user no longer exists");
    };
    ctx.moderation.check(client.ip, Some(&user.id))?;
    ctx.accounts.refuse_disabled(&user.id)?;
    Ok(user)
}

#[allow(clippy::too_many_arguments)]
fn respond(
    ctx: &AppContext,
    registered: &RegisteredClient,
    user: &User,
    scopes: &Scopes,
    grant_id: &str,
    auth_time_ms: i64,
    nonce: Option<&str>,
    refresh_token: Option<String>,
) -> Result<TokenResponse> {
    let provider = &ctx.provider;
    let now = ctx.clock.now_ms();
    let lifetime = provider.token_lifetime_ms;
    let mut aud = vec![registered.id.clone()];
    aud.extend(
        registered
            .audiences
            .iter()
            .filter(|a| **a != registered.id)
            .cloned(),
    );
    let claims = ProviderAccessClaims {
        iss: provider.config.issuer.clone(),
        sub: user.id.clone(),
        aud,
        client_id: registered.id.clone(),
        scope: scopes.to_string(),
        exp: (now + lifetime).div_euclid(1000),
        iat: now.div_euclid(1000),
        jti: crate::ids::random_hex(16),
        sid: grant_id.to_string(),
        auth_time: auth_time_ms.div_euclid(1000),
        email: Some(user.email.clone()),
        preferred_username: (!user.username.is_empty()).then(|| user.username.clone()),
        name: (!user.name.is_empty()).then(|| user.name.clone()),
        role: user.role.to_string(),
        idp: user.provider.to_string(),
    };
    let access_token =
        tokens::sign_access_token(&provider.keys, &provider.config, &claims, &user.role)?;
    let id_token = tokens::sign_id_token(
        &provider.keys,
        &provider.config,
        user,
        scopes,
        &IdTokenFacts {
            client_id: &registered.id,
            nonce,
            auth_time: auth_time_ms.div_euclid(1000),
            sid: grant_id,
            now_ms: now,
            lifetime_ms: lifetime,
        },
    )?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: lifetime / 1000,
        id_token,
        refresh_token,
        scope: scopes.to_string(),
    })
}

/// An access token the provider issued, still good: signature, type, issuer, expiry, its
/// grant not revoked, its user not banned. Memory only (the gateway's hot path).
pub fn authenticate_access_token(
    ctx: &AppContext,
    client: &Client,
    token: &str,
) -> Result<ProviderAccessClaims> {
    let provider = &ctx.provider;
    let claims =
        tokens::verify_access_token(&provider.keys, &provider.config, token, ctx.clock.now_ms())
            .map_err(|e| match e {
                tokens::AccessTokenError::Expired => Error::Unauthorized("jwt expired".into()),
                tokens::AccessTokenError::Invalid => {
                    Error::Unauthorized("invalid signature".into())
                }
            })?;
    if ctx.sessions.is_revoked(&claims.sid) {
        return Err(Error::Unauthorized("Session revoked".into()));
    }
    ctx.moderation.check(client.ip, Some(&claims.sub))?;
    Ok(claims)
}

/// A provider token sent to the gateway as a Bearer (access or ID token), still good, for one
/// of `OIDC_GATEWAY_AUDIENCES`. Memory only (the gateway's hot path).
pub fn authenticate_gateway_bearer(
    ctx: &AppContext,
    client: &Client,
    token: &str,
) -> Result<Arc<tokens::BearerClaims>> {
    let provider = &ctx.provider;
    let claims = match provider.verified.get(token) {
        Some(claims) => claims,
        None => {
            let claims = tokens::verify_bearer(&provider.keys, &provider.config, token)
                .map(Arc::new)
                .map_err(|_| Error::Unauthorized("invalid signature".into()))?;
            provider.verified.insert(token.to_string(), claims.clone());
            claims
        }
    };
    if claims.exp.saturating_mul(1000) <= ctx.clock.now_ms() {
        return Err(Error::Unauthorized("jwt expired".into()));
    }
    if !claims.aud.contains_any(&provider.config.gateway_audiences) {
        return Err(Error::Unauthorized("jwt audience invalid".into()));
    }
    if ctx.sessions.is_revoked(&claims.sid) {
        return Err(Error::Unauthorized("Session revoked".into()));
    }
    ctx.moderation.check(client.ip, Some(&claims.sub))?;
    Ok(claims)
}

/// Userinfo (Core §5.3): the claims the token's scopes release, read fresh.
pub async fn userinfo(
    ctx: &AppContext,
    client: &Client,
    bearer: Option<&str>,
) -> Result<serde_json::Value> {
    let invalid = |why: &str| Error::OAuth(OAuthError::new("invalid_token", why));
    let token = bearer.ok_or_else(|| invalid("no access token"))?;
    let claims = match authenticate_access_token(ctx, client, token) {
        Ok(claims) => claims,
        Err(Error::Unauthorized(why)) => return Err(invalid(&why)),
        Err(e) => return Err(e),
    };
    let scopes = Scopes::parse(&claims.scope);
    if !scopes.openid {
        return Err(invalid("the token was not issued for openid"));
    }
    let Some(user) = ctx.accounts.user(&claims.sub).await? else {
        return Err(invalid("the user no longer exists"));
    };
    Ok(serde_json::Value::Object(tokens::user_claims(
        &ctx.provider.config,
        &user,
        &scopes,
    )))
}

/// The initials picture of a user (`/oidc/picture/<id>`), for a bearer of a provider access
/// token of that user with the `profile` scope.
pub async fn picture(
    ctx: &AppContext,
    client: &Client,
    bearer: Option<&str>,
    user_id: &str,
) -> Result<String> {
    let invalid = |why: &str| Error::OAuth(OAuthError::new("invalid_token", why));
    let token = bearer.ok_or_else(|| invalid("no access token"))?;
    let claims = match authenticate_access_token(ctx, client, token) {
        Ok(claims) => claims,
        Err(Error::Unauthorized(why)) => return Err(invalid(&why)),
        Err(e) => return Err(e),
    };
    if claims.sub != user_id || !Scopes::parse(&claims.scope).profile {
        return Err(Error::OAuth(OAuthError::new(
            "access_denied",
            "the token is not for this picture",
        )));
    }
    let Some(user) = ctx.accounts.user(user_id).await? else {
        return Err(invalid("the user no longer exists"));
    };
    let name = if user.name.is_empty() {
        &user.username
    } else {
        &user.name
    };
    Ok(crate::provider::picture::svg(
        name,
        &ctx.config.pages.accent_color,
    ))
}

/// Revocation (RFC 7009): a refresh token or an access token of this client ends its grant.
/// Unknown tokens, and tokens of other clients, are answered alike (success).
pub async fn revoke(
    ctx: &AppContext,
    client: &Client,
    credentials: &ClientCredentials,
    token: Option<&str>,
) -> Result<()> {
    let registered = authenticate_client(ctx, client, credentials).await?;
    let Some(token) = token else {
        return oauth("invalid_request", "token is required");
    };
    if let Some(grant) = ctx.sessions.grant_of_refresh_token(token).await? {
        if grant.client_id == registered.id {
            ctx.sessions.revoke_session(&grant.id).await?;
        }
        return Ok(());
    }
    let provider = &ctx.provider;
    if let Ok(claims) =
        tokens::verify_access_token(&provider.keys, &provider.config, token, ctx.clock.now_ms())
    {
        if claims.client_id == registered.id {
            ctx.sessions.revoke_session(&claims.sid).await?;
        }
    }
    Ok(())
}

/// Introspection (RFC 7662), for confidential clients: whether a token is active *for the
/// asking client* — a token of another audience is inactive to it.
pub async fn introspect(
    ctx: &AppContext,
    client: &Client,
    credentials: &ClientCredentials,
    token: Option<&str>,
) -> Result<serde_json::Value> {
    let registered = authenticate_client(ctx, client, credentials).await?;
    if registered.is_public() {
        return oauth(
            "invalid_client",
            "introspection is for confidential clients",
        );
    }
    let Some(token) = token else {
        return oauth("invalid_request", "token is required");
    };
    let inactive = serde_json::json!({ "active": false });
    let issuer = &ctx.provider.config.issuer;
    if let Some(grant) = ctx.sessions.grant_of_refresh_token(token).await? {
        if grant.client_id != registered.id
            || ctx
                .moderation
                .check(client.ip, Some(&grant.user_id))
                .is_err()
        {
            return Ok(inactive);
        }
        return Ok(serde_json::json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": grant.scope,
            "client_id": grant.client_id,
            "sub": grant.user_id,
            "exp": grant.expires_at.div_euclid(1000),
            "iss": issuer,
        }));
    }
    match authenticate_access_token(ctx, client, token) {
        Ok(claims) if claims.aud.iter().any(|a| *a == registered.id) => Ok(serde_json::json!({
            "active": true,
            "token_type": "Bearer",
            "scope": claims.scope,
            "client_id": claims.client_id,
            "username": claims.preferred_username,
            "sub": claims.sub,
            "aud": claims.aud,
            "iss": claims.iss,
            "exp": claims.exp,
            "iat": claims.iat,
            "jti": claims.jti,
        })),
        Ok(_) | Err(Error::Unauthorized(_)) | Err(Error::Banned { .. }) => Ok(inactive),
        Err(e) => Err(e),
    }
}

/// An RP-initiated logout request (RP-Initiated Logout 1.0 §2).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct EndSessionRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug)]
pub enum EndSession {
    /// Signed out (or nobody was signed in): on to the app's address, or `None` for the
    /// pages' own "signed out" page.
    Done(Option<String>),
    /// Ask the person whether to sign out (no hint, or a hint for someone else).
    Confirm(EndSessionRequest),
    /// The request cannot be followed (bad hint, unregistered address): a page says why.
    Refuse(String),
}

/// Checks the request; signs out when `confirmed` or when the hint names the signed-in user.
pub async fn end_session(
    ctx: &AppContext,
    session: Option<&AccessClaims>,
    cookie: Option<&str>,
    req: EndSessionRequest,
    confirmed: bool,
) -> Result<EndSession> {
    let provider = &ctx.provider;
    let hint = match req.id_token_hint.as_deref() {
        Some(raw) => match tokens::read_id_token_hint(&provider.keys, &provider.config, raw) {
            Some(hint) => Some(hint),
            None => {
                return Ok(EndSession::Refuse(
                    "The sign-out request is not valid.".into(),
                ))
            }
        },
        None => None,
    };
    let client_id = match (
        req.client_id.as_deref(),
        hint.as_ref().and_then(|h| h.aud.first()),
    ) {
        (Some(given), Some(hinted)) if given != hinted => {
            return Ok(EndSession::Refuse(
                "The sign-out request names two different apps.".into(),
            ))
        }
        (Some(given), _) => Some(given.to_string()),
        (None, hinted) => hinted.map(str::to_string),
    };
    let destination = match req.post_logout_redirect_uri.as_deref() {
        None => None,
        Some(uri) => {
            let client = match client_id.as_deref() {
                Some(id) => provider.clients.get(id).await?,
                None => None,
            };
            match client {
                Some(c) if c.post_logout_uri_registered(uri) => Some(match req.state.as_deref() {
                    Some(state) => redirect_with(uri, &[("state", state)]),
                    None => uri.to_string(),
                }),
                _ => {
                    return Ok(EndSession::Refuse(
                        "The app asked to send you to an address it has not registered.".into(),
                    ))
                }
            }
        }
    };
    let Some(session) = session else {
        return Ok(EndSession::Done(destination));
    };
    let hint_is_this_user = hint.as_ref().is_some_and(|h| h.sub == session.id);
    if !confirmed && !hint_is_this_user {
        // The confirmation form carries what was checked, not the hint.
        return Ok(EndSession::Confirm(EndSessionRequest {
            id_token_hint: None,
            client_id,
            ..req
        }));
    }
    super::sign_in::sign_out_browser(ctx, cookie).await?;
    Ok(EndSession::Done(destination))
}
