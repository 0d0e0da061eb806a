//! `/api/auth`: login, registration, refresh, logout.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::cookies;
use super::extract::{bearer_token, ApiJson, ClientIp};
use crate::accounts::validation::RegistrationInput;
use crate::accounts::{PublicUser, RegisterOptions, Registration};
use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::mail::flows;
use crate::moderation::Subject;
use crate::sessions::Issued;
use crate::store::users::User;

/// The one answer to every accepted registration, new email or taken (no enumeration).
pub const REGISTRATION_MESSAGE: &str = "Please check your email to verify your email address.";

#[derive(Deserialize)]
pub struct LoginBody {
    email: Option<String>,
    password: Option<String>,
}

/// 200 `{token, user}`, with the session cookies when there is a new refresh token.
pub(super) fn session_response(ctx: &AppContext, issued: &Issued, user: &User) -> Response {
    let mut headers = HeaderMap::new();
    if let Some(refresh_token) = &issued.refresh_token {
        cookies::set_session(
            &mut headers,
            refresh_token,
            issued.session_expires_at_ms,
            ctx.config.sessions.secure_cookies,
        );
    }
    let mut body = json!({ "token": issued.access_token, "user": PublicUser::from(user) });
    if crate::sessions::must_enrol_2fa(ctx.config.sessions.require_2fa, user) {
        // The token reaches only the 2FA routes until enrolment is confirmed.
        body["twoFASetupRequired"] = json!(true);
    }
    (StatusCode::OK, headers, Json(body)).into_response()
}

/// The ban check of login and registration: the client IP, then the account the body's email
/// names, so a banned user is refused from any IP. It comes before the limiters, so a banned
/// client sees the ban, not a 429.
pub(super) async fn check_ban(ctx: &AppContext, ip: IpAddr, email: Option<&str>) -> Result<()> {
    ctx.moderation.check(ip, None)?;
    if let Some(email) = email.filter(|e| !e.trim().is_empty()) {
        if let Some(user) = ctx.accounts.find_by_email(email).await? {
            ctx.moderation.check(ip, Some(&user.id))?;
        }
    }
    Ok(())
}

pub async fn login(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response> {
    check_ban(&ctx, ip, body.email.as_deref()).await?;
    let limiter = &ctx.moderation.limiters.login;
    ctx.moderation
        .limit(limiter, Subject::Ip(ip), &ctx.sessions)
        .await?;
    if !ctx.config.features.allow_email_login {
        return Err(Error::EmailLoginDisabled);
    }
    let user = ctx
        .accounts
        .login(body.email.as_deref(), body.password.as_deref())
        .await?;
    if user.two_factor_enabled {
        // The password was right; the second factor goes to /api/auth/2fa/verify-temp. No
        // session and no cookie yet.
        let temp_token = ctx.sessions.issue_two_factor_temp(&user.id)?;
        tracing::info!(user_id = %user.id, "password accepted, waiting for the second factor");
        return Ok(Json(json!({ "twoFAPending": true, "tempToken": temp_token })).into_response());
    }
    let issued = ctx.sessions.start(&user).await?;
    tracing::info!(user_id = %user.id, "login");
    Ok(session_response(&ctx, &issued, &user))
}

#[derive(Deserialize)]
pub struct RegisterBody {
    #[serde(flatten)]
    input: RegistrationInput,
    /// An invitation (`bouncer invite-user`): lets this email register with registration
    /// closed.
    token: Option<String>,
}

pub async fn register(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Json<serde_json::Value>> {
    let input = &body.input;
    check_ban(&ctx, ip, input.email.as_deref()).await?;
    let limiter = &ctx.moderation.limiters.register;
    ctx.moderation
        .limit(limiter, Subject::Ip(ip), &ctx.sessions)
        .await?;
    let invite = match body.token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => Some(
            ctx.accounts
                .check_invite(input.email.as_deref(), token)
                .await?,
        ),
        None => None,
    };
    if invite.is_none() && !ctx.config.features.allow_registration {
        return Err(Error::RegistrationDisabled);
    }
    // A taken email gets the same answer as a new account, after the same hashing work; the
    // verification message goes out after the answer, so its timing tells nothing either.
    let registration = ctx
        .accounts
        .register(input, &RegisterOptions::public(invite))
        .await?;
    if let Registration::Created(user) = registration {
        if !user.email_verified {
            flows::send_verification_later(&ctx, *user);
        }
    }
    Ok(Json(json!({ "message": REGISTRATION_MESSAGE })))
}

pub async fn refresh(
    State(ctx): State<Arc<AppContext>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let retry = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "retry" && v == "true");
    let Some(token) = cookies::refresh_token(&headers) else {
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Refresh token not provided",
        )
            .into_response());
    };
    let claims = ctx.sessions.verify_refresh(&token)?;
    let user = ctx
        .accounts
        .user(&claims.id)
        .await?
        .ok_or(Error::RefreshUserGone)?;
    let issued = ctx.sessions.rotate(&claims, &token, &user, retry).await?;
    Ok(session_response(&ctx, &issued, &user))
}

/// Ends the session named by the refresh cookie (and by the access token, if one is sent) and
/// clears the cookies. Needs no valid access token: logging out with an expired one works.
pub async fn logout(State(ctx): State<Arc<AppContext>>, headers: HeaderMap) -> Result<Response> {
    let refresh = cookies::refresh_token(&headers);
    let bearer = bearer_token(&headers);
    ctx.sessions.logout(refresh.as_deref(), bearer).await?;
    let mut out = HeaderMap::new();
    cookies::clear_session(&mut out, ctx.config.sessions.secure_cookies);
    let mut body = json!({ "message": "Logout successful" });
    // An OpenID user is also sent to the provider to end its session there
    // (OPENID_USE_END_SESSION_ENDPOINT).
    let from_openid = bearer
        .and_then(|t| ctx.sessions.access_claims_ignoring_expiry(t))
        .is_some_and(|c| c.provider == "openid");
    if let (true, Some(openid)) = (from_openid, ctx.openid.as_ref()) {
        if let Some(url) = openid.end_session_url(&ctx.config.client.domain_client) {
            body["redirect"] = json!(url);
        }
    }
    Ok((StatusCode::OK, out, Json(body)).into_response())
}
