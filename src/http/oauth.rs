//! `/oauth/*` on the wire: sign-in through identity providers, as browser redirects. The rules
//! are `usecases::provider_sign_in`; this file keeps the flow's state cookie and turns outcomes
//! into redirects. Success sets the same cookies as a login and goes to `DOMAIN_CLIENT`; every
//! failure goes to LibreChat's `${DOMAIN_CLIENT}/login?redirect=false&error=auth_failed`, with
//! the precise reason in the log; a refusal by the moderation system is answered as such.

use super::openapi_schemas as schema;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use utoipa::openapi::HttpMethod;
use utoipa::Path;
use utoipa_axum::router::OpenApiRouter;

use super::cookies;
use super::extract::ClientIp;
use crate::app::AppContext;
use crate::config::social::SocialKind;
use crate::error::Error;
use crate::sso::state::LIFETIME_SECS;
use crate::sso::{SsoFailure, Started};
use crate::usecases::provider_sign_in::{self, Callback, Provider, ProviderSignInError};
use crate::usecases::{Client, SignedIn};

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
    cookies::clear_flow_state(&mut headers, ctx.config.sessions.secure_cookies);
    redirect(
        &format!(
            "{}/login?redirect=false&error=auth_failed",
            ctx.config.client.domain_client
        ),
        headers,
    )
}

/// Sends the browser to the provider with the flow's state in a cookie.
fn to_provider(ctx: &AppContext, provider: &Provider, started: Started) -> Response {
    let sealed = match ctx.flow_keys.seal(&started.flow) {
        Ok(sealed) => sealed,
        Err(e) => {
            let failure = SsoFailure::Internal(Error::Internal(e));
            return auth_failed(ctx, provider.as_str(), &failure);
        }
    };
    let mut headers = HeaderMap::new();
    cookies::set_flow_state_for(
        &mut headers,
        sealed,
        LIFETIME_SECS,
        ctx.config.sessions.secure_cookies,
        // Apple and SAML identity providers post their answer back from their own site.
        matches!(
            provider,
            Provider::Social(SocialKind::Apple) | Provider::Saml
        ),
    );
    redirect(&started.authorization_url, headers)
}

/// The provider's answer at the callback, from the query (GET) or a form post (Apple).
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// Apple: the user's name, on the first sign-in.
    user: Option<String>,
}

/// The callback matched to the flow it continues: the provider's error, or the code and the
/// flow state from the cookie, which must name this provider and this `state`.
fn checked_callback(
    ctx: &AppContext,
    provider: &Provider,
    params: CallbackParams,
    headers: &HeaderMap,
) -> Result<Callback, SsoFailure> {
    if let Some(error) = &params.error {
        return Err(SsoFailure::ProviderError(format!(
            "{error}: {}",
            params.error_description.as_deref().unwrap_or("")
        )));
    }
    let (Some(code), Some(state)) = (params.code, params.state.as_deref()) else {
        return Err(SsoFailure::BadState);
    };
    let flow = cookies::flow_state(headers)
        .and_then(|cookie| {
            ctx.flow_keys
                .open(&cookie, provider.as_str(), state, ctx.clock.now_ms())
        })
        .ok_or(SsoFailure::BadState)?;
    Ok(Callback {
        code,
        flow,
        apple_user: params.user,
    })
}

/// A session from a provider: the session cookie, and the browser sent to the client (or,
/// for a flow begun on the sign-in pages, the browser session's cookie and the way back).
fn signed_in(ctx: &AppContext, signed_in: &SignedIn, return_to: Option<&str>) -> Response {
    let mut out = HeaderMap::new();
    cookies::clear_flow_state(&mut out, ctx.config.sessions.secure_cookies);
    if let (Some(to), Some(token)) = (return_to, &signed_in.issued.browser_token) {
        cookies::set_browser_session(
            &mut out,
            &ctx.config.pages,
            token,
            signed_in.issued.session_expires_at_ms,
            ctx.config.sessions.secure_cookies,
        );
        let to = if signed_in.must_enrol_2fa {
            format!("{}/account", ctx.config.pages.prefix)
        } else {
            to.to_string()
        };
        return redirect(&to, out);
    }
    let issued = &signed_in.issued;
    if let Some(refresh_token) = &issued.refresh_token {
        cookies::set_session(
            &mut out,
            refresh_token,
            issued.session_expires_at_ms,
            ctx.config.sessions.secure_cookies,
        );
    }
    redirect(&ctx.config.client.domain_client, out)
}

fn refused_or_failed(ctx: &AppContext, provider: &Provider, e: ProviderSignInError) -> Response {
    match e {
        // As LibreChat's checkBan and limiters answer: their JSON.
        ProviderSignInError::Refused(e) => e.into_response(),
        ProviderSignInError::Failed(failure) => auth_failed(ctx, provider.as_str(), &failure),
    }
}

/// `?rd=…` on the start URL: the flow was begun on the sign-in pages' buttons.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartParams {
    rd: Option<String>,
}

async fn start(
    ctx: Arc<AppContext>,
    ip: IpAddr,
    provider: Provider,
    params: StartParams,
) -> Response {
    // From the pages, the way back is checked now and again never: a return address that
    // may not be followed becomes the account page.
    let return_to = params.rd.map(|rd| {
        crate::return_to::check(&rd, &ctx.config.pages, &ctx.config.client.domain_server)
            .unwrap_or_else(|| {
                format!(
                    "{}{}/account",
                    ctx.config.client.domain_server, ctx.config.pages.prefix
                )
            })
    });
    match provider_sign_in::begin(&ctx, Client::at(ip), &provider).await {
        Ok(mut started) => {
            started.flow.return_to = return_to;
            to_provider(&ctx, &provider, started)
        }
        Err(e) => refused_or_failed(&ctx, &provider, e),
    }
}

async fn callback(
    ctx: Arc<AppContext>,
    ip: IpAddr,
    provider: Provider,
    params: CallbackParams,
    headers: HeaderMap,
) -> Response {
    let checked = checked_callback(&ctx, &provider, params, &headers);
    let return_to = checked.as_ref().ok().and_then(|c| c.flow.return_to.clone());
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let client = match return_to {
        Some(_) => Client::browser(ip, user_agent),
        None => Client::api(ip, user_agent),
    };
    match provider_sign_in::finish(&ctx, client, &provider, checked).await {
        Ok(session) => signed_in(&ctx, &session, return_to.as_deref()),
        Err(e) => refused_or_failed(&ctx, &provider, e),
    }
}

/// LibreChat's `GET /oauth/error`: where its passport failures land.
#[utoipa::path(get, path = "/oauth/error", tag = "oauth",
    responses((status = 302, description = "To `${DOMAIN_CLIENT}/login?redirect=false&error=auth_failed`")))]
pub async fn error(State(ctx): State<Arc<AppContext>>) -> Response {
    redirect(
        &format!(
            "{}/login?redirect=false&error=auth_failed",
            ctx.config.client.domain_client
        ),
        HeaderMap::new(),
    )
}

#[utoipa::path(get, path = "/oauth/openid", tag = "oauth",
    params(StartParams),
    responses((status = 302, description = "To the identity provider, or (failed) to `${DOMAIN_CLIENT}/login?redirect=false&error=auth_failed`, or (signed in) to `DOMAIN_CLIENT` with the session cookies"),
        (status = 403, description = "Banned", body = schema::Message),
        (status = 429, description = "Too many sign-ins", body = schema::Message)))]
pub async fn openid_start(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    Query(params): Query<StartParams>,
) -> Response {
    start(ctx, ip, Provider::OpenId, params).await
}

#[utoipa::path(get, path = "/oauth/openid/callback", tag = "oauth",
    params(CallbackParams),
    responses((status = 302, description = "To the identity provider, or (failed) to `${DOMAIN_CLIENT}/login?redirect=false&error=auth_failed`, or (signed in) to `DOMAIN_CLIENT` with the session cookies"),
        (status = 403, description = "Banned", body = schema::Message),
        (status = 429, description = "Too many sign-ins", body = schema::Message)))]
pub async fn openid_callback(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    Query(params): Query<CallbackParams>,
    headers: HeaderMap,
) -> Response {
    callback(ctx, ip, Provider::OpenId, params, headers).await
}

#[utoipa::path(get, path = "/oauth/saml", tag = "oauth",
    params(StartParams),
    responses((status = 302, description = "To the identity provider, or (failed) to `${DOMAIN_CLIENT}/login?redirect=false&error=auth_failed`, or (signed in) to `DOMAIN_CLIENT` with the session cookies"),
        (status = 403, description = "Banned", body = schema::Message),
        (status = 429, description = "Too many sign-ins", body = schema::Message)))]
pub async fn saml_start(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    Query(params): Query<StartParams>,
) -> Response {
    start(ctx, ip, Provider::Saml, params).await
}

/// The HTTP-POST binding's form. Read by hand, so a malformed body ends as every failed
/// sign-in does rather than as the form extractor's 4xx.
#[derive(Deserialize, Default)]
struct SamlPost {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

#[utoipa::path(post, path = "/oauth/saml/callback", tag = "oauth",
    request_body(content = schema::SamlPost, content_type = "application/x-www-form-urlencoded"),
    responses((status = 302, description = "To the identity provider, or (failed) to `${DOMAIN_CLIENT}/login?redirect=false&error=auth_failed`, or (signed in) to `DOMAIN_CLIENT` with the session cookies"),
        (status = 403, description = "Banned", body = schema::Message),
        (status = 429, description = "Too many sign-ins", body = schema::Message)))]
pub async fn saml_callback(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: SamlPost = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let params = CallbackParams {
        code: form.saml_response,
        state: form.relay_state,
        ..CallbackParams::default()
    };
    callback(ctx, ip, Provider::Saml, params, headers).await
}

/// The service provider's metadata, for the identity provider's administrator.
#[utoipa::path(get, path = "/oauth/saml/metadata", tag = "oauth",
    responses((status = 200, description = "The service provider's metadata", content_type = "application/samlmetadata+xml", body = String)))]
pub async fn saml_metadata(State(ctx): State<Arc<AppContext>>) -> Response {
    let metadata = ctx.saml.as_ref().map(|saml| saml.metadata());
    match metadata {
        Some(Ok(xml)) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Some(Err(e)) => {
            tracing::error!(reason = %e, "SAML metadata");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The routes of the enabled social providers: `GET /oauth/<name>`, and the callback (a form
/// `POST` for Apple, `GET` for the others).
pub fn social_routes(
    router: OpenApiRouter<Arc<AppContext>>,
    kinds: &[SocialKind],
) -> OpenApiRouter<Arc<AppContext>> {
    use axum::routing::{get, post};
    let mut router = router;
    for &kind in kinds {
        let start = get(
            move |State(ctx): State<Arc<AppContext>>,
                  ClientIp(ip): ClientIp,
                  Query(params): Query<StartParams>| {
                start(ctx, ip, Provider::Social(kind), params)
            },
        );
        let callback = if kind == SocialKind::Apple {
            post(
                move |State(ctx): State<Arc<AppContext>>,
                      ClientIp(ip): ClientIp,
                      headers: HeaderMap,
                      Form(params): Form<CallbackParams>| {
                    callback(ctx, ip, Provider::Social(kind), params, headers)
                },
            )
        } else {
            get(
                move |State(ctx): State<Arc<AppContext>>,
                      ClientIp(ip): ClientIp,
                      headers: HeaderMap,
                      Query(params): Query<CallbackParams>| {
                    callback(ctx, ip, Provider::Social(kind), params, headers)
                },
            )
        };
        let start_path = format!("/oauth/{}", kind.name());
        let callback_path = format!("/oauth/{}/callback", kind.name());
        // The handlers are closures, one per provider: their document entries are the
        // annotated stand-ins below, under each provider's own path.
        let (callback_method, callback_doc) = if kind == SocialKind::Apple {
            (
                HttpMethod::Post,
                <__path_social_form_callback as Path>::operation(),
            )
        } else {
            (
                HttpMethod::Get,
                <__path_social_callback as Path>::operation(),
            )
        };
        let paths = &mut router.get_openapi_mut().paths;
        paths.add_path_operation(
            &start_path,
            vec![HttpMethod::Get],
            <__path_social_start as Path>::operation(),
        );
        paths.add_path_operation(&callback_path, vec![callback_method], callback_doc);
        router = router
            .route(&start_path, start)
            .route(&callback_path, callback);
    }
    router
}

// The document's entries of a social provider's routes (`social_routes`); never called.

#[utoipa::path(get, path = "/oauth/{provider}", tag = "oauth",
    params(StartParams),
    responses(
        (status = 302, description = "To the provider, or (failed) to `${DOMAIN_CLIENT}/login?redirect=false&error=auth_failed`"),
        (status = 403, description = "Banned", body = schema::Message),
        (status = 429, description = "Too many sign-ins", body = schema::Message)))]
#[allow(dead_code)]
fn social_start() {}

#[utoipa::path(get, path = "/oauth/{provider}/callback", tag = "oauth",
    params(CallbackParams),
    responses(
        (status = 302, description = "Signed in: to `DOMAIN_CLIENT` with the session cookies; failed: to `${DOMAIN_CLIENT}/login?redirect=false&error=auth_failed`"),
        (status = 403, description = "Banned", body = schema::Message),
        (status = 429, description = "Too many sign-ins", body = schema::Message)))]
#[allow(dead_code)]
fn social_callback() {}

/// Apple posts its answer as a form.
#[utoipa::path(post, path = "/oauth/{provider}/callback", tag = "oauth",
    request_body(content = schema::CallbackForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 302, description = "Signed in: to `DOMAIN_CLIENT` with the session cookies; failed: to `${DOMAIN_CLIENT}/login?redirect=false&error=auth_failed`"),
        (status = 403, description = "Banned", body = schema::Message),
        (status = 429, description = "Too many sign-ins", body = schema::Message)))]
#[allow(dead_code)]
fn social_form_callback() {}
