//! Registration on the pages (open, or from an invitation link) and email verification: the
//! link's result page and a form to ask for a new link. The rules are
//! `usecases::registration` and `usecases::email_verification`.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::errors::failure;
use super::layout::{Chrome, PageRequest};
use super::text::EN;
use crate::accounts::validation::RegistrationInput;
use crate::usecases::{email_verification, registration};

#[derive(Template)]
#[template(path = "pages/register.html")]
pub struct RegisterPage {
    pub c: Chrome,
    pub name: String,
    pub username: String,
    pub email: String,
    pub token: String,
    pub error: Option<String>,
    pub error_field: String,
}

#[derive(Deserialize, Default)]
pub struct InviteQuery {
    token: Option<String>,
}

fn register_page(req: &PageRequest, token: &str) -> RegisterPage {
    RegisterPage {
        c: req.chrome(),
        name: String::new(),
        username: String::new(),
        email: String::new(),
        token: token.to_string(),
        error: None,
        error_field: String::new(),
    }
}

/// `GET /ui/register?token=…`: the form, when registration is open or an invitation is in
/// the link (checked when submitted, with the email it was sent to).
pub async fn form(req: PageRequest, Query(query): Query<InviteQuery>) -> Response {
    let token = query.token.unwrap_or_default();
    if !req.ctx.config.features.allow_registration && token.is_empty() {
        return req.message(
            StatusCode::FORBIDDEN,
            EN.register_heading,
            None,
            Some(EN.registration_closed.into()),
            Some((EN.back_to_sign_in.into(), req.path("/login"))),
        );
    }
    req.render(StatusCode::OK, &register_page(&req, &token))
}

#[derive(Deserialize)]
pub struct RegisterForm {
    csrf: Option<String>,
    name: Option<String>,
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    confirm_password: Option<String>,
    token: Option<String>,
}

/// `POST /ui/register`: the same answer whether the email was new or taken.
pub async fn submit(req: PageRequest, form: Result<Form<RegisterForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return req.form_expired();
    };
    if !req.csrf_ok(form.csrf.as_deref()) {
        return req.form_expired();
    }
    let input = RegistrationInput {
        name: form.name.clone(),
        username: form.username.clone(),
        email: form.email.clone(),
        password: form.password,
        confirm_password: form.confirm_password,
    };
    let token = form.token.unwrap_or_default();
    match registration::register(&req.ctx, req.client.clone(), &input, Some(&token)).await {
        Ok(()) => req.message(
            StatusCode::OK,
            EN.register_heading,
            Some(EN.registered.into()),
            None,
            Some((EN.back_to_sign_in.into(), req.path("/login"))),
        ),
        Err(e) => {
            let f = failure(&req, e).await;
            let page = RegisterPage {
                name: form.name.unwrap_or_default(),
                username: form.username.unwrap_or_default(),
                email: form.email.unwrap_or_default(),
                error: Some(f.message),
                error_field: f.field.unwrap_or_default(),
                ..register_page(&req, &token)
            };
            req.render(f.status, &page)
        }
    }
}

#[derive(Template)]
#[template(path = "pages/verify.html")]
pub struct VerifyPage {
    pub c: Chrome,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub email: String,
}

#[derive(Deserialize, Default)]
pub struct VerifyQuery {
    token: Option<String>,
    email: Option<String>,
}

/// `GET /ui/verify?token=…&email=…`: the mailed link's result.
pub async fn verify(req: PageRequest, Query(query): Query<VerifyQuery>) -> Response {
    let email = query.email.clone().unwrap_or_default();
    let outcome = email_verification::verify_email(
        &req.ctx,
        req.client.clone(),
        query.email.as_deref(),
        query.token.as_deref(),
    )
    .await;
    let (status, notice, error) = match outcome {
        Ok(()) => (StatusCode::OK, Some(EN.verified.to_string()), None),
        Err(e) => {
            let f = failure(&req, e).await;
            (f.status, None, Some(f.message))
        }
    };
    req.render(
        status,
        &VerifyPage {
            c: req.chrome(),
            notice,
            error,
            email,
        },
    )
}

#[derive(Deserialize)]
pub struct ResendForm {
    csrf: Option<String>,
    email: Option<String>,
}

/// `POST /ui/verify/resend`: the same answer for every email.
pub async fn resend(req: PageRequest, form: Result<Form<ResendForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return req.form_expired();
    };
    if !req.csrf_ok(form.csrf.as_deref()) {
        return req.form_expired();
    }
    let outcome = email_verification::resend_verification(
        &req.ctx,
        req.client.clone(),
        form.email.as_deref(),
    )
    .await;
    let (status, notice, error) = match outcome {
        Ok(()) => (StatusCode::OK, Some(EN.resent.to_string()), None),
        Err(e) => {
            let f = failure(&req, e).await;
            (f.status, None, Some(f.message))
        }
    };
    req.render(
        status,
        &VerifyPage {
            c: req.chrome(),
            notice,
            error,
            email: form.email.unwrap_or_default(),
        },
    )
}
