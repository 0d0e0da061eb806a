//! `/oauth/*`: sign-in through identity providers, as browser redirects. Success sets the same
//! cookies as a login and goes to `DOMAIN_CLIENT`; every failure goes to LibreChat's
//! `${DOMAIN_CLIENT}/login?redirect=false&error=auth_failed`, with the precise reason in the log.
//! Social and OpenID sign-ins skip 2FA, as in LibreChat.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::cookies;
use super::extract::ClientIp;
use crate::accounts::ExternalRules;
use crate::app::AppContext;
use crate::config::social::SocialKind;
use crate::error::Error;
use crate::moderation::Subject;
use crate::sso::social::CallbackExtras;
use crate::sso::state::{FlowState, LIFETIME_SECS};
use crate::sso::{ExternalProfile, SsoFailure, Started};

fn redirect(to: &str, mut headers: HeaderMap) -> Response {
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/")),
    );
    (StatusCode::FOUND, headers).into_response()
}

/// The one answer of every failed sign-in; the reason goes to the log only.
fn auth_failed(ctx: &AppContext, provider: &str, failure: &SsoFailure) -> Response {
    tracing::warn!(provider, reason = %failure, "sign-in through the identity provider failed");
    let mut headers = HeaderMap::new();
    cookies::clear_flow_state(&mut headers, ctx.config.sessions.secure_cookies);
    redirect(
        &format!(
            "{}/login?redirect=false&error=auth_failed",
            ctx.config.client.domain_client
        ),
        headers,
    )
}

/// The login limiter and the IP ban apply to every `/oauth` request, as to `/api/auth/login`.
async fn guard(ctx: &AppContext, ip: IpAddr) -> Result<(), Response> {
    ctx.moderation
        .check(ip, None)
        .map_err(IntoResponse::into_response)?;
    ctx.moderation
        .limit(
            &ctx.moderation.limiters.login,
            Subject::Ip(ip),
            &ctx.sessions,
        )
        .await
        .map_err(IntoResponse::into_response)
}

/// Sends the browser to the provider with the flow's state in a cookie.
fn to_provider(ctx: &AppContext, provider: &str, started: Result<Started, SsoFailure>) -> Response {
    let started = match started {
        Ok(started) => started,
        Err(failure) => return auth_failed(ctx, provider, &failure),
    };
    let sealed = match ctx.flow_keys.seal(&started.flow) {
        Ok(sealed) => sealed,
        Err(e) => return auth_failed(ctx, provider, &SsoFailure::Internal(Error::Internal(e))),
    };
    let mut headers = HeaderMap::new();
    cookies::set_flow_state_for(
        &mut headers,
        sealed,
        LIFETIME_SECS,
        ctx.config.sessions.secure_cookies,
        provider == SocialKind::Apple.name(),
    );
    redirect(&started.authorization_url, headers)
}

/// The provider's answer at the callback, from the query (GET) or a form post (Apple).
#[derive(Deserialize, Default)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// Apple: the user's name, on the first sign-in.
    user: Option<String>,
}

/// The flow this callback continues: the provider's error, or the code and the checked state.
fn checked_flow<'a>(
    ctx: &AppContext,
    provider: &str,
    params: &'a CallbackParams,
    headers: &HeaderMap,
) -> Result<(&'a str, FlowState), SsoFailure> {
    if let Some(error) = &params.error {
        return Err(SsoFailure::ProviderError(format!(
            "{error}: {}",
            params.error_description.as_deref().unwrap_or("")
        )));
    }
    let (Some(code), Some(state)) = (params.code.as_deref(), params.state.as_deref()) else {
        return Err(SsoFailure::BadState);
    };
    let flow = cookies::flow_state(headers)
        .and_then(|cookie| {
            ctx.flow_keys
                .open(&cookie, provider, state, ctx.clock.now_ms())
        })
        .ok_or(SsoFailure::BadState)?;
    Ok((code, flow))
}

/// Signs the provider's user in exactly like a login and sends the browser to the client.
async fn complete(
    ctx: &AppContext,
    ip: IpAddr,
    profile: &ExternalProfile,
    rules: ExternalRules,
) -> Result<Response, SsoFailure> {
    let user = ctx.accounts.sign_in_external(profile, rules).await?;
    ctx.moderation
        .check(ip, Some(&user.id))
        .map_err(|_| SsoFailure::Banned)?;
    let issued = ctx.sessions.start(&user).await?;
    tracing::info!(user_id = %user.id, provider = profile.provider, "login through the identity provider");
    let mut out = HeaderMap::new();
    cookies::clear_flow_state(&mut out, ctx.config.sessions.secure_cookies);
    if let Some(refresh_token) = &issued.refresh_token {
        cookies::set_session(
            &mut out,
            refresh_token,
            issued.session_expires_at_ms,
            ctx.config.sessions.secure_cookies,
        );
    }
    Ok(redirect(&ctx.config.client.domain_client, out))
}

fn outcome(ctx: &AppContext, provider: &str, result: Result<Response, SsoFailure>) -> Response {
    match result {
        Ok(response) => response,
        // LibreChat's checkBan answers the callback with its 403 JSON.
        Err(SsoFailure::Banned) => Error::Banned.into_response(),
        Err(failure) => auth_failed(ctx, provider, &failure),
    }
}

/// LibreChat's `GET /oauth/error`: where its passport failures land.
pub async fn error(State(ctx): State<Arc<AppContext>>) -> Response {
    redirect(
        &format!(
            "{}/login?redirect=false&error=auth_failed",
            ctx.config.client.domain_client
        ),
        HeaderMap::new(),
    )
}

pub async fn openid_start(State(ctx): State<Arc<AppContext>>, ClientIp(ip): ClientIp) -> Response {
    if let Err(refused) = guard(&ctx, ip).await {
        return refused;
    }
    let Some(provider) = ctx.openid.as_ref() else {
        return auth_failed(
            &ctx,
            "openid",
            &SsoFailure::ProviderUnavailable("not configured".into()),
        );
    };
    let started = provider.begin().await;
    to_provider(&ctx, "openid", started)
}

pub async fn openid_callback(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    Query(params): Query<CallbackParams>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = guard(&ctx, ip).await {
        return refused;
    }
    let result = async {
        let provider = ctx
            .openid
            .as_ref()
            .ok_or_else(|| SsoFailure::ProviderUnavailable("not configured".into()))?;
        let (code, flow) = checked_flow(&ctx, "openid", &params, &headers)?;
        let profile = provider.finish(code, &flow).await?;
        // OpenID users are created at their first login whatever ALLOW_SOCIAL_REGISTRATION
        // says (LibreChat: "OpenID does not support the ability to disable only
        // registration").
        let rules = ExternalRules {
            may_register: true,
            allow_linking: provider.config().allow_account_linking,
        };
        complete(&ctx, ip, &profile, rules).await
    }
    .await;
    outcome(&ctx, "openid", result)
}

pub async fn social_start(ctx: Arc<AppContext>, ip: IpAddr, kind: SocialKind) -> Response {
    if let Err(refused) = guard(&ctx, ip).await {
        return refused;
    }
    let Some(provider) = ctx.social.get(&kind) else {
        return auth_failed(
            &ctx,
            kind.name(),
            &SsoFailure::ProviderUnavailable("not configured".into()),
        );
    };
    to_provider(&ctx, kind.name(), provider.begin())
}

pub async fn social_callback(
    ctx: Arc<AppContext>,
    ip: IpAddr,
    kind: SocialKind,
    params: CallbackParams,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = guard(&ctx, ip).await {
        return refused;
    }
    let result = async {
        let provider = ctx
            .social
            .get(&kind)
            .ok_or_else(|| SsoFailure::ProviderUnavailable("not configured".into()))?;
        let (code, flow) = checked_flow(&ctx, kind.name(), &params, &headers)?;
        let extras = CallbackExtras {
            apple_user: params.user.clone(),
        };
        let profile = provider.finish(code, &flow, &extras).await?;
        let rules = ExternalRules {
            may_register: ctx.config.features.allow_social_registration,
            allow_linking: provider.config().allow_account_linking,
        };
        complete(&ctx, ip, &profile, rules).await
    }
    .await;
    outcome(&ctx, kind.name(), result)
}

/// The routes of the enabled social providers: `GET /oauth/<name>`, and the callback (a form
/// `POST` for Apple, `GET` for the others).
pub fn social_routes(
    router: axum::Router<Arc<AppContext>>,
    kinds: &[SocialKind],
) -> axum::Router<Arc<AppContext>> {
    use axum::routing::{get, post};
    let mut router = router;
    for &kind in kinds {
        let start = get(
            move |State(ctx): State<Arc<AppContext>>, ClientIp(ip): ClientIp| {
                social_start(ctx, ip, kind)
            },
        );
        let callback = if kind == SocialKind::Apple {
            post(
                move |State(ctx): State<Arc<AppContext>>,
                      ClientIp(ip): ClientIp,
                      headers: HeaderMap,
                      Form(params): Form<CallbackParams>| {
                    social_callback(ctx, ip, kind, params, headers)
                },
            )
        } else {
            get(
                move |State(ctx): State<Arc<AppContext>>,
                      ClientIp(ip): ClientIp,
                      headers: HeaderMap,
                      Query(params): Query<CallbackParams>| {
                    social_callback(ctx, ip, kind, params, headers)
                },
            )
        };
        router = router
            .route(&format!("/oauth/{}", kind.name()), start)
            .route(&format!("/oauth/{}/callback", kind.name()), callback);
    }
    router
}
