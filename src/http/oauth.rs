//! `/oauth/*`: sign-in through identity providers, as browser redirects. Success sets the same
//! cookies as a login and goes to `DOMAIN_CLIENT`; every failure goes to LibreChat's
//! `${DOMAIN_CLIENT}/login?redirect=false&error=auth_failed`, with the precise reason in the log.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::cookies;
use super::extract::ClientIp;
use crate::accounts::ExternalRules;
use crate::app::AppContext;
use crate::error::Error;
use crate::moderation::Subject;
use crate::sso::state::LIFETIME_SECS;
use crate::sso::SsoFailure;

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
    cookies::clear_flow_state(&mut headers, ctx.config.secure_cookies);
    redirect(
        &format!(
            "{}/login?redirect=false&error=auth_failed",
            ctx.config.domain_client
        ),
        headers,
    )
}

/// The login limiter and the IP ban apply to every `/oauth` request, as to `/api/auth/login`.
async fn guard(ctx: &AppContext, ip: std::net::IpAddr) -> Result<(), Response> {
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
    let started = match provider.begin().await {
        Ok(started) => started,
        Err(failure) => return auth_failed(&ctx, "openid", &failure),
    };
    let sealed = match ctx.flow_keys.seal(&started.flow) {
        Ok(sealed) => sealed,
        Err(e) => return auth_failed(&ctx, "openid", &SsoFailure::Internal(Error::Internal(e))),
    };
    let mut headers = HeaderMap::new();
    cookies::set_flow_state(
        &mut headers,
        sealed,
        LIFETIME_SECS,
        ctx.config.secure_cookies,
    );
    redirect(&started.authorization_url, headers)
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn openid_callback(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = guard(&ctx, ip).await {
        return refused;
    }
    match finish_openid(&ctx, ip, &query, &headers).await {
        Ok(response) => response,
        Err(SsoFailure::Banned) => Error::Banned.into_response(),
        Err(failure) => auth_failed(&ctx, "openid", &failure),
    }
}

async fn finish_openid(
    ctx: &AppContext,
    ip: std::net::IpAddr,
    query: &CallbackQuery,
    headers: &HeaderMap,
) -> Result<Response, SsoFailure> {
    if let Some(error) = &query.error {
        return Err(SsoFailure::ProviderError(format!(
            "{error}: {}",
            query.error_description.as_deref().unwrap_or("")
        )));
    }
    let provider = ctx
        .openid
        .as_ref()
        .ok_or_else(|| SsoFailure::ProviderUnavailable("not configured".into()))?;
    let (Some(code), Some(state)) = (query.code.as_deref(), query.state.as_deref()) else {
        return Err(SsoFailure::BadState);
    };
    let flow = cookies::flow_state(headers)
        .and_then(|cookie| {
            ctx.flow_keys
                .open(&cookie, "openid", state, ctx.clock.now_ms())
        })
        .ok_or(SsoFailure::BadState)?;
    let profile = provider.finish(code, &flow).await?;
    // OpenID users are created at their first login whatever ALLOW_SOCIAL_REGISTRATION says
    // (LibreChat: "OpenID does not support the ability to disable only registration").
    let rules = ExternalRules {
        may_register: true,
        allow_linking: provider.config().allow_account_linking,
    };
    let user = ctx.accounts.sign_in_external(&profile, rules).await?;
    ctx.moderation
        .check(ip, Some(&user.id))
        .map_err(|_| SsoFailure::Banned)?;
    let issued = ctx.sessions.start(&user).await?;
    tracing::info!(user_id = %user.id, provider = "openid", "login through the identity provider");
    let mut out = HeaderMap::new();
    cookies::clear_flow_state(&mut out, ctx.config.secure_cookies);
    if let Some(refresh_token) = &issued.refresh_token {
        cookies::set_session(
            &mut out,
            refresh_token,
            issued.session_expires_at_ms,
            ctx.config.secure_cookies,
        );
    }
    Ok(redirect(&ctx.config.domain_client, out))
}
