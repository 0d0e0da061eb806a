//! Passkeys on the sign-in pages: the script that runs the browser's side of the ceremonies
//! (a file of its own: the Content-Security-Policy allows no inline script), signing in with a
//! passkey, and a passkey as the second step. The script fills the forms' `ceremony` and
//! `credential` fields and posts them; the rules are `usecases::passkeys`.

use axum::extract::rejection::FormRejection;
use axum::extract::Form;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::errors::failure;
use super::layout::PageRequest;
use super::sign_in::{login_page, session_started, SecondFactorPage};
use super::text::PASSKEY_EN;
use crate::usecases::passkeys;

const SCRIPT: &str = include_str!("../../templates/pages/passkeys.js");

/// `GET /ui/passkeys.js`.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: Option<String>,
    rd: Option<String>,
    ceremony: Option<String>,
    credential: Option<String>,
}

/// `POST /ui/login/passkey`: ends as a password sign-in does (the session cookie, then the
/// return address or the provider's authorization).
pub async fn sign_in(req: PageRequest, form: Result<Form<SignInForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return req.form_expired();
    };
    if !req.csrf_ok(form.csrf.as_deref()) {
        return req.form_expired();
    }
    let rd = req.return_to(form.rd.as_deref()).unwrap_or_default();
    let outcome = passkeys::sign_in(
        &req.ctx,
        req.client.clone(),
        form.ceremony.as_deref(),
        form.credential.as_deref(),
    )
    .await;
    match outcome {
        Ok(signed_in) => session_started(&req, signed_in, Some(&rd)).await,
        Err(e) => {
            let f = failure(&req, e).await;
            let mut page = login_page(&req, "", &rd);
            page.error = Some(f.message);
            req.render(f.status, &page)
        }
    }
}

#[derive(Deserialize)]
pub struct SecondFactorForm {
    csrf: Option<String>,
    temp_token: Option<String>,
    rd: Option<String>,
    ceremony: Option<String>,
    credential: Option<String>,
}

/// `POST /ui/login/2fa/passkey`: the second step with a passkey instead of a code.
pub async fn second_factor(
    req: PageRequest,
    form: Result<Form<SecondFactorForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return req.form_expired();
    };
    if !req.csrf_ok(form.csrf.as_deref()) {
        return req.form_expired();
    }
    let rd = req.return_to(form.rd.as_deref()).unwrap_or_default();
    let outcome = passkeys::complete_second_factor(
        &req.ctx,
        req.client.clone(),
        form.temp_token.as_deref(),
        form.ceremony.as_deref(),
        form.credential.as_deref(),
    )
    .await;
    match outcome {
        Ok(signed_in) => session_started(&req, signed_in, Some(&rd)).await,
        Err(e) => {
            let f = failure(&req, e).await;
            let temp_token = form.temp_token.unwrap_or_default();
            let status = if f.status.is_success() {
                StatusCode::BAD_REQUEST
            } else {
                f.status
            };
            let choices = passkeys::second_factor_choices(&req.ctx, &temp_token).await;
            req.render(
                status,
                &SecondFactorPage {
                    c: req.chrome(),
                    code: choices.code,
                    passkey: choices.passkey,
                    temp_token,
                    rd,
                    error: Some(f.message),
                    pt: &PASSKEY_EN,
                },
            )
        }
    }
}
