//! `/api/auth`: login, registration, refresh, logout, on the wire. The rules are the use cases'
//! (`usecases::sign_in`, `usecases::registration`).

use super::openapi_schemas as schema;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::cookies;
use super::extract::{bearer_token, ApiJson, ClientIp, UserAgent};
use crate::accounts::validation::RegistrationInput;
use crate::accounts::PublicUser;
use crate::app::AppContext;
use crate::error::Result;
use crate::usecases::sign_in::{self, SignIn};
use crate::usecases::{registration, Client, SignedIn};

/// The one answer to every accepted registration, new email or taken (no enumeration).
pub const REGISTRATION_MESSAGE: &str = "Please check your email to verify your email address.";

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    email: Option<String>,
    password: Option<String>,
}

/// 200 `{token, user}`, with the session cookies when there is a new refresh token.
pub(super) fn session_response(ctx: &AppContext, signed_in: &SignedIn) -> Response {
    let mut headers = HeaderMap::new();
    let issued = &signed_in.issued;
    if let Some(refresh_token) = &issued.refresh_token {
        cookies::set_session(
            &mut headers,
            refresh_token,
            issued.session_expires_at_ms,
            ctx.config.sessions.secure_cookies,
        );
    }
    let mut body = json!({
        "token": issued.access_token,
        "user": PublicUser::from(signed_in.user.as_ref()),
    });
    if signed_in.must_enrol_2fa {
        // The token reaches only the 2FA routes until enrolment is confirmed.
        body["twoFASetupRequired"] = json!(true);
    }
    (StatusCode::OK, headers, Json(body)).into_response()
}

#[utoipa::path(post, path = "/api/auth/login", tag = "auth",
    request_body(content = LoginBody, description = "`email` (or the LDAP username) and `password`"),
    responses(
        (status = 200, description = "Signed in (cookies `refreshToken`, `token_provider`), or the 2FA step's turn (no cookie)", body = schema::LoginOutcome),
        (status = 403, description = "Banned, email login off, account disabled", body = schema::Message),
        (status = 404, description = "Every credential failure, one message: no enumeration", body = schema::Message),
        (status = 422, description = "Email not verified", body = schema::Message),
    ))]
pub async fn login(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response> {
    let outcome = sign_in::sign_in(
        &ctx,
        Client::api(ip, user_agent.as_deref()),
        body.email.as_deref(),
        body.password.as_deref(),
    )
    .await?;
    Ok(match outcome {
        SignIn::SignedIn(signed_in) => session_response(&ctx, &signed_in),
        // No session and no cookie yet: the code goes to /api/auth/2fa/verify-temp.
        SignIn::SecondFactorRequired { temp_token } => {
            Json(json!({ "twoFAPending": true, "tempToken": temp_token })).into_response()
        }
    })
}

#[derive(Deserialize)]
pub struct RegisterBody {
    #[serde(flatten)]
    input: RegistrationInput,
    /// An invitation (`bouncer invite-user`): lets this email register with registration
    /// closed.
    token: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/register", tag = "auth",
    request_body = schema::RegisterRequest,
    responses(
        (status = 200, description = "Accepted, a new email or a taken one alike (no enumeration); no session", body = schema::Message),
        (status = 400, description = "Invalid invite token", body = schema::Message),
        (status = 403, description = "Banned, registration off, the email's domain not allowed", body = schema::Message),
        (status = 404, description = "A field breaks LibreChat's `registerSchema` (`<field>: <message>`)", body = schema::Message),
    ))]
pub async fn register(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Json<serde_json::Value>> {
    registration::register(&ctx, Client::at(ip), &body.input, body.token.as_deref()).await?;
    Ok(Json(json!({ "message": REGISTRATION_MESSAGE })))
}

#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth",
    security(("refreshCookie" = [])),
    params(("retry" = Option<String>, Query, description = "`true`: the client's retry after a failed refresh")),
    responses(
        (status = 200, description = "A new access token (and a rotated cookie), or, without a cookie, LibreChat's text `Refresh token not provided`",
            content((schema::Session = "application/json"), (String = "text/plain"))),
        (status = 302, description = "The session's user is gone: to `/login`"),
        (status = 401, description = "Refresh token expired or not found for this user", content_type = "text/plain", body = String),
        (status = 403, description = "Invalid refresh token or no session (text), a ban or a disabled account (JSON)",
            content((String = "text/plain"), (schema::Message = "application/json"))),
    ))]
pub async fn refresh(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
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
    let signed_in = sign_in::refresh(&ctx, ip, &token, retry).await?;
    Ok(session_response(&ctx, &signed_in))
}

/// Ends the session named by the refresh cookie (and by the access token, if one is sent) and
/// clears the cookies. Needs no valid access token: logging out with an expired one works.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    security(("refreshCookie" = []), ()),
    responses(
        (status = 200, description = "The session ended and its cookies cleared (also without one)", body = schema::LoggedOut),
    ))]
pub async fn logout(State(ctx): State<Arc<AppContext>>, headers: HeaderMap) -> Result<Response> {
    let refresh = cookies::refresh_token(&headers);
    let signed_out = sign_in::sign_out(&ctx, refresh.as_deref(), bearer_token(&headers)).await?;
    let mut out = HeaderMap::new();
    cookies::clear_session(&mut out, ctx.config.sessions.secure_cookies);
    let mut body = json!({ "message": "Logout successful" });
    if let Some(url) = signed_out.provider_logout_url {
        body["redirect"] = json!(url);
    }
    Ok((StatusCode::OK, out, Json(body)).into_response())
}
