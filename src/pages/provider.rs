//! The OpenID provider's browser side: the authorization endpoint (which sends the browser to
//! the sign-in page and back), the consent page, and RP-initiated logout. The rules are in
//! `usecases/provider.rs`; this file only reads requests and renders outcomes.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::layout::{with_app, Chrome, PageRequest};
use super::text::EN;
use crate::http::cookies;
use crate::provider::paths;
use crate::provider::scopes::Scopes;
use crate::usecases::provider::{
    self as provider_usecases, Authorize, AuthorizeRequest, EndSession, EndSessionRequest,
};

#[derive(Template)]
#[template(path = "pages/consent.html")]
pub struct ConsentPage {
    pub c: Chrome,
    pub heading: String,
    pub help: String,
    pub scopes: Vec<&'static str>,
    /// The authorization request, form-encoded, posted back with the answer.
    pub request: String,
}

#[derive(Template)]
#[template(path = "pages/end_session.html")]
pub struct EndSessionPage {
    pub c: Chrome,
    pub question: String,
    pub action: String,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

fn scope_texts(scopes: &Scopes) -> Vec<&'static str> {
    scopes
        .names()
        .map(|name| match name {
            "openid" => EN.scope_openid,
            "profile" => EN.scope_profile,
            "email" => EN.scope_email,
            _ => EN.scope_offline_access,
        })
        .collect()
}

fn refused(req: &PageRequest, why: String) -> Response {
    req.message(
        StatusCode::BAD_REQUEST,
        EN.request_refused,
        None,
        Some(why),
        None,
    )
}

fn disabled(req: &PageRequest) -> Response {
    req.message(
        StatusCode::NOT_FOUND,
        EN.error_heading,
        None,
        Some(EN.not_found.into()),
        None,
    )
}

async fn provider_on(req: &PageRequest) -> bool {
    req.ctx.provider.clients.any().await.unwrap_or(false)
}

/// Renders what the use case decided.
fn answer(req: &PageRequest, outcome: Authorize) -> Response {
    match outcome {
        Authorize::Redirect(to) => req.see_other(&to, HeaderMap::new()),
        Authorize::Refuse(why) => refused(req, why),
        Authorize::SignIn {
            login_hint,
            again,
            come_back,
        } => {
            let back = format!(
                "{}{}?{}",
                req.ctx.provider.base_path(),
                paths::AUTHORIZE,
                serde_urlencoded::to_string(&come_back).unwrap_or_default()
            );
            let mut login = url::form_urlencoded::Serializer::new(String::new());
            login.append_pair("rd", &back);
            if let Some(hint) = login_hint.as_deref().filter(|h| h.len() <= 320) {
                login.append_pair("login_hint", hint);
            }
            if again {
                login.append_pair("prompt", "login");
            }
            let to = format!("{}?{}", req.path("/login"), login.finish());
            req.see_other(&to, HeaderMap::new())
        }
        Authorize::EnrolSecondFactor => {
            req.see_other(&req.path("/account#two-factor-section"), HeaderMap::new())
        }
        Authorize::Consent {
            client,
            scopes,
            request,
        } => {
            let app = &req.ctx.config.client.app_title;
            let name = if client.name.is_empty() {
                &client.id
            } else {
                &client.name
            };
            let heading = with_app(EN.consent_heading, app).replace("{client}", name);
            let help = EN.consent_help.replace("{client}", name);
            req.render(
                StatusCode::OK,
                &ConsentPage {
                    c: req.chrome(),
                    heading,
                    help,
                    scopes: scope_texts(&scopes),
                    request: serde_urlencoded::to_string(&request).unwrap_or_default(),
                },
            )
        }
    }
}

async fn run_authorize(req: PageRequest, params: AuthorizeRequest) -> Response {
    if !provider_on(&req).await {
        return disabled(&req);
    }
    match provider_usecases::authorize(&req.ctx, req.session.as_ref(), params).await {
        Ok(outcome) => answer(&req, outcome),
        Err(e) => req.failure_page(e).await,
    }
}

/// `GET /oidc/authorize?…`. A malformed query (a parameter given twice, `max_age` not a
/// number) is refused as a page: nothing in it can be trusted to redirect to.
pub async fn authorize_get(
    req: PageRequest,
    query: Result<Query<AuthorizeRequest>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match query {
        Ok(Query(params)) => run_authorize(req, params).await,
        Err(_) => refused(&req, "The request is malformed.".into()),
    }
}

/// `POST /oidc/authorize` (Core §3.1.2.1 allows the request as a form).
pub async fn authorize_post(
    req: PageRequest,
    form: Result<Form<AuthorizeRequest>, FormRejection>,
) -> Response {
    match form {
        Ok(Form(params)) => run_authorize(req, params).await,
        Err(_) => refused(&req, "The request is malformed.".into()),
    }
}

#[derive(Deserialize)]
pub struct ConsentForm {
    csrf: Option<String>,
    request: Option<String>,
    decision: Option<String>,
}

/// `POST /ui/consent`: the answer of the consent page.
pub async fn consent(req: PageRequest, form: Result<Form<ConsentForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return req.form_expired();
    };
    if !req.csrf_ok(form.csrf.as_deref()) {
        return req.form_expired();
    }
    if !provider_on(&req).await {
        return disabled(&req);
    }
    let Some(params) = form
        .request
        .as_deref()
        .and_then(|r| serde_urlencoded::from_str::<AuthorizeRequest>(r).ok())
    else {
        return refused(&req, "The request is malformed.".into());
    };
    let allow = form.decision.as_deref() == Some("allow");
    match provider_usecases::consent(&req.ctx, req.session.as_ref(), params, allow).await {
        Ok(outcome) => answer(&req, outcome),
        Err(e) => req.failure_page(e).await,
    }
}

async fn run_end_session(req: PageRequest, params: EndSessionRequest, confirmed: bool) -> Response {
    if !provider_on(&req).await {
        return disabled(&req);
    }
    let outcome = provider_usecases::end_session(
        &req.ctx,
        req.session.as_ref(),
        req.session_cookie.as_deref(),
        params,
        confirmed,
    )
    .await;
    let mut cleared = HeaderMap::new();
    cookies::clear_browser_session(&mut cleared, &req.ctx.config.pages, req.secure_cookies());
    match outcome {
        Ok(EndSession::Done(Some(to))) => req.see_other(&to, cleared),
        Ok(EndSession::Done(None)) => {
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
            req.render_with(StatusCode::OK, &page, cleared)
        }
        Ok(EndSession::Confirm(params)) => {
            let question = with_app(EN.sign_out_of_app, &req.ctx.config.client.app_title);
            let page = EndSessionPage {
                c: req.chrome(),
                question,
                action: format!("{}{}", req.ctx.provider.base_path(), paths::END_SESSION),
                client_id: params.client_id,
                post_logout_redirect_uri: params.post_logout_redirect_uri,
                state: params.state,
            };
            req.render(StatusCode::OK, &page)
        }
        Ok(EndSession::Refuse(why)) => refused(&req, why),
        Err(e) => req.failure_page(e).await,
    }
}

/// `GET /oidc/logout?id_token_hint=…&post_logout_redirect_uri=…&state=…`.
pub async fn end_session_get(
    req: PageRequest,
    query: Result<Query<EndSessionRequest>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match query {
        Ok(Query(params)) => run_end_session(req, params, false).await,
        Err(_) => refused(&req, "The sign-out request is malformed.".into()),
    }
}

#[derive(Deserialize)]
pub struct EndSessionForm {
    csrf: Option<String>,
    confirm: Option<String>,
    #[serde(flatten)]
    request: EndSessionRequest,
}

/// `POST /oidc/logout`: an app's form post (as the GET), or the confirmation page's answer.
pub async fn end_session_post(
    req: PageRequest,
    form: Result<Form<EndSessionForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return refused(&req, "The sign-out request is malformed.".into());
    };
    let confirmed = form.confirm.as_deref() == Some("yes");
    if confirmed && !req.csrf_ok(form.csrf.as_deref()) {
        return req.form_expired();
    }
    run_end_session(req, form.request, confirmed).await
}
