//! Signing in and out on the pages: email and password, the second factor, provider buttons,
//! and signing out with a confirmation. The rules are `usecases::sign_in`'s.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::errors::failure;
use super::layout::{with_app, Chrome, PageRequest};
use super::text::{PasskeyText, EN, PASSKEY_EN};
use crate::http::cookies;
use crate::twofactor::Code;
use crate::usecases::passkeys;
use crate::usecases::sign_in::{self, SignIn};
use crate::usecases::SignedIn;

/// The login page's query: the return address, and from the OpenID provider a hint of who
/// signs in and whether to ask even when signed in (`prompt=login`, `max_age`).
#[derive(Deserialize, Default)]
pub struct LoginQuery {
    rd: Option<String>,
    login_hint: Option<String>,
    prompt: Option<String>,
}

/// A provider's sign-in button.
pub struct ProviderButton {
    pub label: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "pages/login.html")]
pub struct LoginPage {
    pub c: Chrome,
    pub heading: String,
    pub email: String,
    /// The login field: an email, or a username for the directory (`LDAP_LOGIN_USES_USERNAME`).
    pub login_label: &'static str,
    pub login_kind: &'static str,
    pub rd: String,
    pub error: Option<String>,
    pub error_field: String,
    pub email_login: bool,
    pub registration: bool,
    pub password_reset: bool,
    pub providers: Vec<ProviderButton>,
    /// Passkeys are on: the passkey button (shown by the script), and the login field offers
    /// passkeys in the browser's autofill.
    pub passkeys: bool,
    pub autocomplete_login: &'static str,
    pub pt: &'static PasskeyText,
}

#[derive(Template)]
#[template(path = "pages/second_factor.html")]
pub struct SecondFactorPage {
    pub c: Chrome,
    pub temp_token: String,
    pub rd: String,
    pub error: Option<String>,
    /// The user has TOTP on: the code form.
    pub code: bool,
    /// The user has a passkey to use instead of a code.
    pub passkey: bool,
    pub pt: &'static PasskeyText,
}

#[derive(Template)]
#[template(path = "pages/logout.html")]
pub struct LogoutPage {
    pub c: Chrome,
    pub question: String,
}

fn providers(req: &PageRequest, rd: &str) -> Vec<ProviderButton> {
    let ctx = &req.ctx;
    // Always with a return address: it is what marks the flow as the pages' own.
    let back = if rd.is_empty() {
        format!(
            "{}{}",
            ctx.config.client.domain_server,
            req.path("/account")
        )
    } else {
        rd.to_string()
    };
    let query = format!(
        "?rd={}",
        url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
    );
    let mut buttons = Vec::new();
    if let Some(openid) = &ctx.config.openid {
        buttons.push(ProviderButton {
            label: openid.button_label.clone(),
            href: format!("/oauth/openid{query}"),
        });
    }
    if let Some(saml) = &ctx.config.saml {
        buttons.push(ProviderButton {
            label: saml
                .button_label
                .clone()
                .unwrap_or_else(|| "Continue with SAML".into()),
            href: format!("/oauth/saml{query}"),
        });
    }
    let mut social: Vec<_> = ctx.social.keys().copied().collect();
    social.sort_by_key(|k| k.name());
    for kind in social {
        let name = kind.name();
        let mut label = name.to_string();
        label[..1].make_ascii_uppercase();
        buttons.push(ProviderButton {
            label: format!("Continue with {label}"),
            href: format!("/oauth/{name}{query}"),
        });
    }
    buttons
}

pub(super) fn login_page(req: &PageRequest, email: &str, rd: &str) -> LoginPage {
    let features = &req.ctx.config.features;
    let by_username = req
        .ctx
        .config
        .ldap
        .as_ref()
        .is_some_and(|l| l.login_uses_username);
    LoginPage {
        c: req.chrome(),
        heading: with_app(EN.sign_in_heading, &req.ctx.config.client.app_title),
        email: email.to_string(),
        login_label: if by_username {
            EN.login_username
        } else {
            EN.email
        },
        login_kind: if by_username { "text" } else { "email" },
        rd: rd.to_string(),
        error: None,
        error_field: String::new(),
        email_login: features.allow_email_login,
        registration: features.allow_registration,
        // The directory holds the passwords: a local reset would set one nothing checks.
        password_reset: features.allow_password_reset && req.ctx.directory.is_none(),
        providers: providers(req, rd),
        passkeys: req.ctx.passkeys.is_some(),
        autocomplete_login: if req.ctx.passkeys.is_some() {
            "username webauthn"
        } else {
            "username"
        },
        pt: &PASSKEY_EN,
    }
}

/// `GET /ui/`: the account page when signed in, else the sign-in form.
pub async fn home(req: PageRequest) -> Response {
    let to = if req.session.is_some() {
        req.path("/account")
    } else {
        req.path("/login")
    };
    req.see_other(&to, HeaderMap::new())
}

/// `GET /ui/login?rd=…`. Already signed in: straight on to the return address, unless the
/// provider asks for a fresh sign-in (`prompt=login`).
pub async fn form(
    req: PageRequest,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let rd = req.return_to(query.rd.as_deref()).unwrap_or_default();
    if req.session.is_some() && query.prompt.as_deref() != Some("login") {
        return req.see_other(&req.after_sign_in(Some(&rd)), HeaderMap::new());
    }
    let hint = query
        .login_hint
        .filter(|h| h.len() <= 320 && h.contains('@'))
        .unwrap_or_default();
    req.render(StatusCode::OK, &login_page(&req, &hint, &rd))
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: Option<String>,
    email: Option<String>,
    password: Option<String>,
    rd: Option<String>,
}

/// A started session: the cookie (replacing, and ending, the one the browser had) and the
/// way on: enrolment when `REQUIRE_2FA` asks for it, else the return address.
pub(super) async fn session_started(
    req: &PageRequest,
    signed_in: SignedIn,
    rd: Option<&str>,
) -> Response {
    if let Some(old) = req.session_cookie.as_deref() {
        if let Err(e) = sign_in::sign_out_browser(&req.ctx, Some(old)).await {
            tracing::warn!(error = %e, "could not end the browser's previous session");
        }
    }
    let mut headers = HeaderMap::new();
    if let Some(token) = &signed_in.issued.browser_token {
        cookies::set_browser_session(
            &mut headers,
            &req.ctx.config.pages,
            token,
            signed_in.issued.session_expires_at_ms,
            req.secure_cookies(),
        );
    }
    let to = if signed_in.must_enrol_2fa {
        req.path("/account#two-factor-section")
    } else {
        req.after_sign_in(rd)
    };
    req.see_other(&to, headers)
}

/// `POST /ui/login`.
pub async fn submit(req: PageRequest, form: Result<Form<LoginForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return req.form_expired();
    };
    if !req.csrf_ok(form.csrf.as_deref()) {
        return req.form_expired();
    }
    let rd = req.return_to(form.rd.as_deref()).unwrap_or_default();
    let email = form.email.unwrap_or_default();
    let outcome = sign_in::sign_in(
        &req.ctx,
        req.client.clone(),
        Some(&email),
        form.password.as_deref(),
    )
    .await;
    match outcome {
        Ok(SignIn::SignedIn(signed_in)) => session_started(&req, signed_in, Some(&rd)).await,
        Ok(SignIn::SecondFactorRequired { temp_token }) => {
            let choices = passkeys::second_factor_choices(&req.ctx, &temp_token).await;
            req.render(
                StatusCode::OK,
                &SecondFactorPage {
                    c: req.chrome(),
                    temp_token,
                    rd,
                    error: None,
                    code: choices.code,
                    passkey: choices.passkey,
                    pt: &PASSKEY_EN,
                },
            )
        }
        Err(e) => {
            let f = failure(&req, e).await;
            let mut page = login_page(&req, &email, &rd);
            page.error = Some(f.message);
            page.error_field = f.field.unwrap_or_default();
            req.render(f.status, &page)
        }
    }
}

#[derive(Deserialize)]
pub struct SecondFactorForm {
    csrf: Option<String>,
    temp_token: Option<String>,
    code: Option<String>,
    rd: Option<String>,
}

/// `POST /ui/login/2fa`: a TOTP code (six digits) or a backup code.
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
    let code = form.code.as_deref().map(str::trim).unwrap_or("");
    let code = if code.is_empty() {
        None
    } else if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Some(Code::Totp(code))
    } else {
        Some(Code::Backup(code))
    };
    let outcome = sign_in::complete_second_factor(
        &req.ctx,
        req.client.clone(),
        form.temp_token.as_deref(),
        code,
    )
    .await;
    match outcome {
        Ok(signed_in) => session_started(&req, signed_in, Some(&rd)).await,
        Err(e) => {
            let f = failure(&req, e).await;
            let temp_token = form.temp_token.unwrap_or_default();
            let choices = passkeys::second_factor_choices(&req.ctx, &temp_token).await;
            req.render(
                f.status,
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

/// `GET /ui/logout`: asks first (a link must not sign anyone out).
pub async fn logout_form(req: PageRequest) -> Response {
    let question = with_app(EN.sign_out_confirm, &req.ctx.config.client.app_title);
    req.render(
        StatusCode::OK,
        &LogoutPage {
            c: req.chrome(),
            question,
        },
    )
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    pub csrf: Option<String>,
}

/// `POST /ui/logout`: ends the browser session and clears its cookie.
pub async fn logout(req: PageRequest, form: Result<Form<CsrfOnly>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return req.form_expired();
    };
    if !req.csrf_ok(form.csrf.as_deref()) {
        return req.form_expired();
    }
    if let Err(e) = sign_in::sign_out_browser(&req.ctx, req.session_cookie.as_deref()).await {
        return req.failure_page(e).await;
    }
    let mut headers = HeaderMap::new();
    cookies::clear_browser_session(&mut headers, &req.ctx.config.pages, req.secure_cookies());
    let page = super::errors::MessagePage {
        c: Chrome {
            signed_in: false,
            ..req.chrome()
        },
        heading: EN.sign_out.into(),
        notice: Some(EN.signed_out.into()),
        error: None,
        link: Some((EN.sign_in.into(), req.path("/login"))),
    };
    req.render_with(StatusCode::OK, &page, headers)
}
