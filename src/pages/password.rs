//! Forgot password and reset password on the pages. The rules are `usecases::password_reset`;
//! the mailed link of a request made here opens `/ui/reset`.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::errors::failure;
use super::layout::{Chrome, PageRequest};
use super::text::EN;
use crate::usecases::password_reset::{self, NewPassword};

use crate::http::password_reset::RESET_REQUESTED;

#[derive(Template)]
#[template(path = "pages/forgot.html")]
pub struct ForgotPage {
    pub c: Chrome,
    pub email: String,
    pub error: Option<String>,
}

pub async fn forgot_form(req: PageRequest) -> Response {
    req.render(
        StatusCode::OK,
        &ForgotPage {
            c: req.chrome(),
            email: String::new(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct ForgotForm {
    csrf: Option<String>,
    email: Option<String>,
}

/// `POST /ui/forgot`.
pub async fn forgot(req: PageRequest, form: Result<Form<ForgotForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return req.form_expired();
    };
    if !req.csrf_ok(form.csrf.as_deref()) {
        return req.form_expired();
    }
    match password_reset::request_reset(&req.ctx, req.client.clone(), form.email.as_deref()).await {
        Ok(()) => req.message(
            StatusCode::OK,
            EN.forgot_heading,
            Some(RESET_REQUESTED.into()),
            None,
            Some((EN.back_to_sign_in.into(), req.path("/login"))),
        ),
        Err(e) => {
            let f = failure(&req, e).await;
            req.render(
                f.status,
                &ForgotPage {
                    c: req.chrome(),
                    email: form.email.unwrap_or_default(),
                    error: Some(f.message),
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "pages/reset.html")]
pub struct ResetPage {
    pub c: Chrome,
    pub token: String,
    pub user_id: String,
    pub error: Option<String>,
    pub error_field: String,
}

#[derive(Deserialize, Default)]
pub struct ResetQuery {
    token: Option<String>,
    #[serde(rename = "userId")]
    user_id: Option<String>,
}

/// `GET /ui/reset?token=…&userId=…`: the mailed link's form (the token is checked on submit).
pub async fn reset_form(req: PageRequest, Query(query): Query<ResetQuery>) -> Response {
    req.render(
        StatusCode::OK,
        &ResetPage {
            c: req.chrome(),
            token: query.token.unwrap_or_default(),
            user_id: query.user_id.unwrap_or_default(),
            error: None,
            error_field: String::new(),
        },
    )
}

#[derive(Deserialize)]
pub struct ResetForm {
    csrf: Option<String>,
    token: Option<String>,
    user_id: Option<String>,
    password: Option<String>,
    confirm_password: Option<String>,
}

/// `POST /ui/reset`.
pub async fn reset(req: PageRequest, form: Result<Form<ResetForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return req.form_expired();
    };
    if !req.csrf_ok(form.csrf.as_deref()) {
        return req.form_expired();
    }
    let outcome = password_reset::reset_password(
        &req.ctx,
        req.client.clone(),
        NewPassword {
            user_id: form.user_id.as_deref(),
            token: form.token.as_deref(),
            password: form.password.as_deref(),
            confirm_password: form.confirm_password.as_deref(),
        },
    )
    .await;
    match outcome {
        Ok(()) => req.message(
            StatusCode::OK,
            EN.reset_heading,
            Some(EN.reset_done.into()),
            None,
            Some((EN.back_to_sign_in.into(), req.path("/login"))),
        ),
        Err(e) => {
            let f = failure(&req, e).await;
            req.render(
                f.status,
                &ResetPage {
                    c: req.chrome(),
                    token: form.token.unwrap_or_default(),
                    user_id: form.user_id.unwrap_or_default(),
                    error: Some(f.message),
                    error_field: f.field.unwrap_or_default(),
                },
            )
        }
    }
}
