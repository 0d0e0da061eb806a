//! `/api/auth`: login, registration, refresh, logout, on the wire. The rules are the use cases'
//! (`usecases::sign_in`, `usecases::registration`).

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

#[derive(Deserialize)]
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

pub async fn register(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Json<serde_json::Value>> {
    registration::register(&ctx, Client::at(ip), &body.input, body.token.as_deref()).await?;
    Ok(Json(json!({ "message": REGISTRATION_MESSAGE })))
}

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
