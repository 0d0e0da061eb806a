//! Signing in through an identity provider (OpenID Connect, SAML 2.0 or a social provider): begin the
//! flow, then finish it at the callback exactly like a login. Provider sign-ins skip 2FA, as in
//! LibreChat; the login limiter and the bans apply to every step.

use super::guard::limit_ip;
use super::sign_in::start_session;
use super::{Client, SignedIn};
use crate::accounts::ExternalRules;
use crate::app::AppContext;
use crate::audit::{Event, Kind};
use crate::error::Error;
use crate::metrics::SignInOutcome;
use crate::sso::social::CallbackExtras;
use crate::sso::state::FlowState;
use crate::sso::{SsoFailure, Started};
pub use crate::store::users::Provider;

/// Why a provider sign-in did not end in a session.
#[derive(Debug)]
pub enum ProviderSignInError {
    /// The moderation system refused the client or the user (ban, login limiter): answered as
    /// any refusal is.
    Refused(Error),
    /// Anything else: one answer for every failure, the precise reason for the log.
    Failed(SsoFailure),
}

impl From<SsoFailure> for ProviderSignInError {
    fn from(failure: SsoFailure) -> Self {
        ProviderSignInError::Failed(failure)
    }
}

type Outcome<T> = Result<T, ProviderSignInError>;

/// The IP ban and the login limiter, on every provider request as on the password login.
async fn guard(ctx: &AppContext, client: &Client) -> Outcome<()> {
    ctx.moderation
        .check(client.ip, None)
        .map_err(ProviderSignInError::Refused)?;
    limit_ip(ctx, &ctx.moderation.limiters.login, client.ip)
        .await
        .map_err(ProviderSignInError::Refused)
}

fn not_configured() -> SsoFailure {
    SsoFailure::ProviderUnavailable("not configured".into())
}

/// Where to send the browser, and the flow state to keep until the callback.
pub async fn begin(ctx: &AppContext, client: Client, provider: &Provider) -> Outcome<Started> {
    guard(ctx, &client).await?;
    Ok(match provider {
        Provider::OpenId => {
            ctx.openid
                .as_ref()
                .ok_or_else(not_configured)?
                .begin()
                .await?
        }
        Provider::Social(kind) => ctx.social.get(kind).ok_or_else(not_configured)?.begin()?,
        Provider::Saml => ctx.saml.as_ref().ok_or_else(not_configured)?.begin()?,
        Provider::Local | Provider::Ldap | Provider::Other(_) => {
            return Err(not_configured().into())
        }
    })
}

/// What the provider's callback brought back, once the translator has matched it to the flow
/// state it kept (the state cookie).
pub struct Callback {
    /// The authorization code; for SAML, the posted `SAMLResponse`.
    pub code: String,
    pub flow: FlowState,
    /// Apple's `user` field: the name, sent on the first sign-in only.
    pub apple_user: Option<String>,
}

/// Finishes the flow: the provider's profile, then the account (created or linked where the
/// provider's rules allow), the ban check of that user, and a session. `callback` is the
/// translator's reading of the callback, looked at only after the guard, so a bad callback
/// counts against the login limiter too.
pub async fn finish(
    ctx: &AppContext,
    client: Client,
    provider: &Provider,
    callback: Result<Callback, SsoFailure>,
) -> Outcome<SignedIn> {
    let outcome = finish_flow(ctx, &client, provider, callback).await;
    ctx.metrics.sign_in(
        crate::metrics::provider_method(provider),
        match &outcome {
            Ok(_) => SignInOutcome::Success,
            Err(ProviderSignInError::Refused(e)) => SignInOutcome::of_error(e),
            Err(ProviderSignInError::Failed(_)) => SignInOutcome::Refused,
        },
    );
    let event = match &outcome {
        Ok(signed_in) => Event::new(Kind::SignInSucceeded).user(&signed_in.user.id),
        Err(refusal) => {
            let reason = match refusal {
                ProviderSignInError::Refused(Error::Banned { .. }) => "banned",
                ProviderSignInError::Refused(Error::RateLimited(_)) => "rate_limited",
                ProviderSignInError::Refused(_) => "refused",
                ProviderSignInError::Failed(_) => "provider_failed",
            };
            Event::new(Kind::SignInFailed).detail("reason", reason)
        }
    };
    ctx.audit
        .record(event.client(&client).detail("method", provider.as_str()));
    outcome
}

async fn finish_flow(
    ctx: &AppContext,
    client: &Client,
    provider: &Provider,
    callback: Result<Callback, SsoFailure>,
) -> Outcome<SignedIn> {
    guard(ctx, client).await?;
    let callback = callback?;
    let (profile, rules) = match provider {
        Provider::OpenId => {
            let openid = ctx.openid.as_ref().ok_or_else(not_configured)?;
            let profile = openid.finish(&callback.code, &callback.flow).await?;
            // OpenID users are created at their first login whatever ALLOW_SOCIAL_REGISTRATION
            // says (LibreChat: "OpenID does not support the ability to disable only
            // registration").
            let rules = ExternalRules {
                may_register: true,
                allow_linking: openid.config().allow_account_linking,
            };
            (profile, rules)
        }
        Provider::Social(kind) => {
            let social = ctx.social.get(kind).ok_or_else(not_configured)?;
            let extras = CallbackExtras {
                apple_user: callback.apple_user,
            };
            let profile = social
                .finish(&callback.code, &callback.flow, &extras)
                .await?;
            let rules = ExternalRules {
                may_register: ctx.config.features.allow_social_registration,
                allow_linking: social.config().allow_account_linking,
            };
            (profile, rules)
        }
        Provider::Saml => {
            let saml = ctx.saml.as_ref().ok_or_else(not_configured)?;
            let profile = saml.finish(&callback.code, &callback.flow).await?;
            // As OpenID: LibreChat creates SAML users whatever ALLOW_SOCIAL_REGISTRATION says,
            // and never binds an account of another provider.
            let rules = ExternalRules {
                may_register: true,
                allow_linking: false,
            };
            (profile, rules)
        }
        Provider::Local | Provider::Ldap | Provider::Other(_) => {
            return Err(not_configured().into())
        }
    };
    let user = ctx.accounts.sign_in_external(&profile, rules).await?;
    ctx.moderation
        .check(client.ip, Some(&user.id))
        .map_err(ProviderSignInError::Refused)?;
    ctx.accounts
        .refuse_disabled(&user.id)
        .map_err(ProviderSignInError::Refused)?;
    let signed_in = start_session(ctx, client, std::sync::Arc::new(user))
        .await
        .map_err(SsoFailure::Internal)?;
    tracing::info!(user_id = %signed_in.user.id, provider = %profile.provider, "login through the identity provider");
    Ok(signed_in)
}
