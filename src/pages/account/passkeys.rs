//! The account page's "Passkeys" section: add one (the script runs the ceremony with the
//! options of `/account/passkeys/options`, then posts the form), see them with their last
//! use, rename or remove one. The rules are `usecases::passkeys`.

use axum::extract::rejection::FormRejection;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{account_page_with, enrolment_only, refused, signed_in_form, when};
use crate::app::AppContext;
use crate::error::Result;
use crate::pages::layout::PageRequest;
use crate::pages::text::PASSKEY_EN;
use crate::usecases::passkeys;

const SECTION: &str = "passkeys";

/// One row of the passkeys table.
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

/// The user's passkeys (none when passkeys are off).
pub(super) async fn rows(ctx: &AppContext, user_id: &str) -> Result<Vec<PasskeyRow>> {
    if ctx.passkeys.is_none() {
        return Ok(Vec::new());
    }
    Ok(passkeys::list(ctx, user_id)
        .await?
        .into_iter()
        .map(|p| PasskeyRow {
            created: when(Some(p.created_at)),
            last_used: when(p.last_used_at),
            id: p.id,
            name: p.name,
        })
        .collect())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /ui/account/passkeys/options`: the registration options, as JSON for the script.
pub async fn options(req: PageRequest, form: Result<Form<CsrfForm>, FormRejection>) -> Response {
    let (claims, _) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    match passkeys::start_registration(&req.ctx, &req.client, &claims.id).await {
        Ok(started) => {
            let mut body = serde_json::to_value(&started.options).unwrap_or_default();
            body["ceremonyId"] = json!(started.ceremony);
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub struct RegisterForm {
    csrf: Option<String>,
    ceremony: Option<String>,
    credential: Option<String>,
    name: Option<String>,
}

/// `POST /ui/account/passkeys`.
pub async fn register(
    req: PageRequest,
    form: Result<Form<RegisterForm>, FormRejection>,
) -> Response {
    // Registering a passkey enrols in 2FA: allowed with an enrolment-only session.
    let (claims, form) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    match passkeys::finish_registration(
        &req.ctx,
        &req.client,
        &claims.id,
        form.ceremony.as_deref(),
        form.credential.as_deref(),
        form.name.as_deref(),
    )
    .await
    {
        Ok(_) => {
            account_page_with(
                &req,
                &claims,
                Some(PASSKEY_EN.added.into()),
                None,
                StatusCode::CREATED,
                None,
            )
            .await
        }
        Err(e) => refused(&req, &claims, e, SECTION).await,
    }
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    csrf: Option<String>,
    passkey_id: Option<String>,
    name: Option<String>,
}

/// `POST /ui/account/passkeys/rename`.
pub async fn rename(req: PageRequest, form: Result<Form<PasskeyForm>, FormRejection>) -> Response {
    let (claims, form) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    if let Some(answer) = enrolment_only(&req, &claims).await {
        return answer;
    }
    let id = form.passkey_id.unwrap_or_default();
    if let Err(e) =
        passkeys::rename(&req.ctx, &req.client, &claims.id, &id, form.name.as_deref()).await
    {
        return refused(&req, &claims, e, SECTION).await;
    }
    account_page_with(
        &req,
        &claims,
        Some(PASSKEY_EN.renamed.into()),
        None,
        StatusCode::OK,
        None,
    )
    .await
}

/// `POST /ui/account/passkeys/remove`.
pub async fn remove(req: PageRequest, form: Result<Form<PasskeyForm>, FormRejection>) -> Response {
    let (claims, form) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let id = form.passkey_id.unwrap_or_default();
    if let Err(e) = passkeys::remove(&req.ctx, &req.client, &claims.id, &id).await {
        return refused(&req, &claims, e, SECTION).await;
    }
    account_page_with(
        &req,
        &claims,
        Some(PASSKEY_EN.removed.into()),
        None,
        StatusCode::OK,
        None,
    )
    .await
}
