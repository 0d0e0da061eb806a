//! The account page: change the password, set up or turn off two-factor authentication (a QR
//! code as inline SVG, backup codes), see and end one's own sessions, delete the account where
//! allowed. The rules are `usecases::account` and `usecases::second_factor`.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::errors::failure;
use super::layout::{Chrome, PageRequest};
use super::text::EN;
use crate::error::Error;
use crate::http::cookies;
use crate::sessions::AccessClaims;
use crate::store::sessions::SessionSummary;
use crate::twofactor::Code;
use crate::usecases::{account, second_factor};

mod api_keys;
pub use api_keys::{create as create_api_key, revoke as revoke_api_key};
mod passkeys;
pub use passkeys::{
    options as passkey_options, register as register_passkey, remove as remove_passkey,
    rename as rename_passkey,
};

/// One row of the sessions table.
pub struct SessionRow {
    pub id: String,
    pub device: String,
    pub kind: String,
    pub ip: String,
    pub started: String,
    pub last_used: String,
    pub current: bool,
}

/// One app the user allowed to sign them in.
pub struct AppRow {
    pub client_id: String,
    pub name: String,
    pub scope: String,
    pub granted: String,
}

#[derive(Template)]
#[template(path = "pages/account.html")]
pub struct AccountPage {
    pub c: Chrome,
    pub name: String,
    pub email: String,
    pub has_password: bool,
    pub two_factor: bool,
    pub must_enrol: bool,
    pub may_delete: bool,
    pub sessions: Vec<SessionRow>,
    /// The apps the user allowed (OpenID provider consents).
    pub apps: Vec<AppRow>,
    /// The user's latest audit events.
    pub activity: Vec<super::account_activity::ActivityRow>,
    pub notice: Option<String>,
    pub error: Option<String>,
    /// The section the message belongs to.
    pub error_section: String,
    /// The user's live API keys, and the one just made (shown this once).
    pub api_keys: Vec<api_keys::KeyRow>,
    pub new_key: Option<String>,
    /// Passkeys are on, and the user's.
    pub passkeys_on: bool,
    pub passkeys: Vec<passkeys::PasskeyRow>,
    pub pt: &'static crate::pages::text::PasskeyText,
}

#[derive(Template)]
#[template(path = "pages/two_factor_setup.html")]
pub struct TwoFactorSetupPage {
    pub c: Chrome,
    pub qr_svg: String,
    pub secret: String,
    pub backup_codes: Vec<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/backup_codes.html")]
pub struct BackupCodesPage {
    pub c: Chrome,
    pub backup_codes: Vec<String>,
}

/// "Firefox on Linux", from a user agent; "Unknown device" when there is none.
pub fn describe_device(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|ua| !ua.is_empty()) else {
        return EN.unknown_device.to_string();
    };
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    let os = [
        ("Windows", "Windows"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_string(),
        (None, Some(o)) => o.to_string(),
        (None, None) => ua.chars().take(60).collect(),
    }
}

pub(super) fn when(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "-".into();
    };
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| "-".into())
}

fn rows(sessions: Vec<SessionSummary>, current: &str) -> Vec<SessionRow> {
    sessions
        .into_iter()
        .map(|s| SessionRow {
            current: s.id == current,
            device: describe_device(s.user_agent.as_deref()),
            kind: match (s.kind.as_str(), s.client_id.as_deref()) {
                (crate::store::sessions::BROWSER, _) => EN.session_kind_browser.to_string(),
                (crate::store::sessions::PROVIDER, Some(client)) => {
                    format!("{}: {client}", EN.session_kind_provider)
                }
                _ => EN.session_kind_api.to_string(),
            },
            ip: s.ip.unwrap_or_else(|| "-".into()),
            started: when(Some(s.created_at)),
            last_used: when(s.last_used_at),
            id: s.id,
        })
        .collect()
}

/// The signed-in user, or the way to the sign-in page (and back here). The answer is the
/// error side: it is sent at once, so its size does not matter.
#[allow(clippy::result_large_err)]
fn signed_in(req: &PageRequest) -> Result<AccessClaims, Response> {
    match &req.session {
        Some(claims) => Ok(claims.clone()),
        None => {
            let rd = url::form_urlencoded::byte_serialize(req.path("/account").as_bytes())
                .collect::<String>();
            Err(req.see_other(&format!("{}?rd={rd}", req.path("/login")), HeaderMap::new()))
        }
    }
}

async fn account_page(
    req: &PageRequest,
    claims: &AccessClaims,
    notice: Option<String>,
    error: Option<(String, &str)>,
    status: StatusCode,
) -> Response {
    account_page_with(req, claims, notice, error, status, None).await
}

/// The page, with the API key just made when there is one.
async fn account_page_with(
    req: &PageRequest,
    claims: &AccessClaims,
    notice: Option<String>,
    error: Option<(String, &str)>,
    status: StatusCode,
    new_key: Option<String>,
) -> Response {
    let user = match account::current_user(&req.ctx, &claims.id).await {
        Ok(user) => user,
        Err(e) => return req.failure_page(e).await,
    };
    let sessions = match account::sessions(&req.ctx, &user.id).await {
        Ok(s) => s,
        Err(e) => return req.failure_page(e).await,
    };
    let consents = match account::consents(&req.ctx, &user.id).await {
        Ok(c) => c,
        Err(e) => return req.failure_page(e).await,
    };
    let mut apps = Vec::with_capacity(consents.len());
    for consent in consents {
        let name = match req.ctx.provider.clients.get(&consent.client_id).await {
            Ok(Some(client)) if !client.name.is_empty() => client.name.clone(),
            _ => consent.client_id.clone(),
        };
        apps.push(AppRow {
            name,
            scope: consent.scope,
            granted: when(Some(consent.granted_at)),
            client_id: consent.client_id,
        });
    }
    let activity = match crate::usecases::audit::recent_for_user(
        &req.ctx,
        &user.id,
        super::account_activity::SHOWN,
    )
    .await
    {
        Ok(events) => super::account_activity::rows(events),
        Err(e) => return req.failure_page(e).await,
    };
    let now = crate::clock::Clock::now_ms(req.ctx.clock.as_ref());
    let api_keys = match api_keys::rows(&req.ctx, &user.id, now).await {
        Ok(k) => k,
        Err(e) => return req.failure_page(e).await,
    };
    let passkey_rows = match passkeys::rows(&req.ctx, &user.id).await {
        Ok(p) => p,
        Err(e) => return req.failure_page(e).await,
    };
    let features = &req.ctx.config.features;
    let (error, error_section) = match error {
        Some((message, section)) => (Some(message), section.to_string()),
        None => (None, String::new()),
    };
    let page = AccountPage {
        c: req.chrome(),
        name: user.name.clone(),
        email: user.email.clone(),
        has_password: user.password_hash.is_some(),
        two_factor: user.two_factor_enabled,
        must_enrol: claims.scope.is_some(),
        may_delete: features.allow_account_deletion
            || user.role == crate::store::users::Role::Admin,
        sessions: rows(sessions, &claims.sid),
        apps,
        activity,
        notice,
        error,
        error_section,
        api_keys,
        new_key,
        passkeys_on: req.ctx.passkeys.is_some(),
        passkeys: passkey_rows,
        pt: &crate::pages::text::PASSKEY_EN,
    };
    req.render(status, &page)
}

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    /// `password`: the password was just changed (the page after the new session began).
    changed: Option<String>,
}

/// `GET /ui/account`.
pub async fn page(req: PageRequest, Query(query): Query<AccountQuery>) -> Response {
    let claims = match signed_in(&req) {
        Ok(c) => c,
        Err(to_login) => return to_login,
    };
    let notice = (query.changed.as_deref() == Some("password")).then(|| EN.password_changed.into());
    account_page(&req, &claims, notice, None, StatusCode::OK).await
}

/// Reads a signed-in user's form: the user, or the answer to send.
#[allow(clippy::result_large_err)]
fn signed_in_form<T>(
    req: &PageRequest,
    form: Result<Form<T>, FormRejection>,
    csrf: impl Fn(&T) -> Option<&str>,
) -> Result<(AccessClaims, T), Response> {
    let claims = signed_in(req)?;
    let Ok(Form(form)) = form else {
        return Err(req.form_expired());
    };
    if !req.csrf_ok(csrf(&form)) {
        return Err(req.form_expired());
    }
    Ok((claims, form))
}

/// What a session confined to setting up 2FA (`REQUIRE_2FA`) may not do on this page, as on
/// the JSON API: anything but the 2FA forms (and signing out).
async fn enrolment_only(req: &PageRequest, claims: &AccessClaims) -> Option<Response> {
    claims.scope.as_ref()?;
    Some(refused(req, claims, Error::TwoFactorSetupRequired, "two-factor").await)
}

async fn refused(req: &PageRequest, claims: &AccessClaims, e: Error, section: &str) -> Response {
    let f = failure(req, e).await;
    account_page(req, claims, None, Some((f.message, section)), f.status).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: Option<String>,
    current_password: Option<String>,
    password: Option<String>,
    confirm_password: Option<String>,
}

/// `POST /ui/account/password`: every session ends; this browser gets a new one.
pub async fn change_password(
    req: PageRequest,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let (claims, form) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    if let Some(answer) = enrolment_only(&req, &claims).await {
        return answer;
    }
    let outcome = account::change_password(
        &req.ctx,
        req.client.clone(),
        &claims.id,
        form.current_password.as_deref(),
        form.password.as_deref(),
        form.confirm_password.as_deref(),
    )
    .await;
    let signed_in = match outcome {
        Ok(s) => s,
        Err(e) => return refused(&req, &claims, e, "password").await,
    };
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
    // The new session's page: the CSRF token is bound to the session, so it is made afresh.
    req.see_other(&req.path("/account?changed=password"), headers)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// The secret in an `otpauth://` URL.
fn secret_of(otpauth_url: &str) -> String {
    url::Url::parse(otpauth_url)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "secret")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default()
}

fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build()
            // The XML declaration is not HTML.
            .trim_start_matches(|c| c != '<')
            .split_once("?>")
            .map(|(_, svg)| svg.to_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// `POST /ui/account/2fa/setup`: stages a secret and backup codes (LibreChat's `enable`).
pub async fn two_factor_setup(
    req: PageRequest,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let (claims, _) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    match second_factor::enrol(&req.ctx, req.client.clone(), &claims.id, None).await {
        Ok(enrolment) => req.render(
            StatusCode::OK,
            &TwoFactorSetupPage {
                c: req.chrome(),
                qr_svg: qr_svg(&enrolment.otpauth_url),
                secret: secret_of(&enrolment.otpauth_url),
                backup_codes: enrolment.backup_codes,
                error: None,
            },
        ),
        Err(e) => refused(&req, &claims, e, "two-factor").await,
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    csrf: Option<String>,
    code: Option<String>,
    secret: Option<String>,
    /// The staged backup codes, carried through the form to be shown once more.
    backup_codes: Option<String>,
}

/// `POST /ui/account/2fa/confirm`: a code from the app turns it on.
pub async fn two_factor_confirm(
    req: PageRequest,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Response {
    let (claims, form) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let codes: Vec<String> = form
        .backup_codes
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .take(20)
        .map(|c| {
            c.chars()
                .filter(char::is_ascii_alphanumeric)
                .take(32)
                .collect()
        })
        .collect();
    match second_factor::confirm(
        &req.ctx,
        req.client.clone(),
        &claims.id,
        form.code.as_deref().map(str::trim),
    )
    .await
    {
        Ok(()) => {
            // The session's cookie says 2FA is set up now (it may have been enrolment-only).
            let mut headers = HeaderMap::new();
            match account::renew_browser_session(&req.ctx, &claims).await {
                Ok(cookie) => cookies::set_browser_session(
                    &mut headers,
                    &req.ctx.config.pages,
                    &cookie,
                    claims.exp.saturating_mul(1000),
                    req.secure_cookies(),
                ),
                Err(e) => tracing::warn!(error = %e, "could not renew the session cookie"),
            }
            req.render_with(
                StatusCode::OK,
                &BackupCodesPage {
                    c: req.chrome(),
                    backup_codes: codes,
                },
                headers,
            )
        }
        Err(e) => {
            let f = failure(&req, e).await;
            let secret = form.secret.unwrap_or_default();
            let issuer = &req.ctx.config.client.app_title;
            let otpauth = format!(
                "otpauth://totp/{}:{}?secret={secret}&issuer={}",
                url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect::<String>(),
                url::form_urlencoded::byte_serialize(claims.email.as_bytes()).collect::<String>(),
                url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect::<String>(),
            );
            req.render(
                f.status,
                &TwoFactorSetupPage {
                    c: req.chrome(),
                    qr_svg: qr_svg(&otpauth),
                    secret,
                    backup_codes: codes,
                    error: Some(f.message),
                },
            )
        }
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: Option<String>,
    code: Option<String>,
}

fn code_of(raw: Option<&str>) -> Option<Code<'_>> {
    let code = raw.map(str::trim).filter(|c| !c.is_empty())?;
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Some(Code::Totp(code))
    } else {
        Some(Code::Backup(code))
    }
}

/// `POST /ui/account/2fa/disable`: with a current code or a backup code.
pub async fn two_factor_disable(
    req: PageRequest,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let (claims, form) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let code = code_of(form.code.as_deref());
    match second_factor::disable(&req.ctx, req.client.clone(), &claims.id, code).await {
        Ok(()) => {
            account_page(
                &req,
                &claims,
                Some(EN.two_factor_disabled.into()),
                None,
                StatusCode::OK,
            )
            .await
        }
        Err(e) => refused(&req, &claims, e, "two-factor").await,
    }
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    csrf: Option<String>,
    client_id: Option<String>,
}

/// `POST /ui/account/apps/withdraw`: the app asks again next time; its grants end now.
pub async fn withdraw_app(
    req: PageRequest,
    form: Result<Form<WithdrawForm>, FormRejection>,
) -> Response {
    let (claims, form) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    if let Some(answer) = enrolment_only(&req, &claims).await {
        return answer;
    }
    let client_id = form.client_id.unwrap_or_default();
    if let Err(e) = account::withdraw_consent(&req.ctx, &claims.id, &client_id).await {
        return refused(&req, &claims, e, "apps").await;
    }
    account_page(
        &req,
        &claims,
        Some(EN.app_withdrawn.into()),
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: Option<String>,
    session_id: Option<String>,
}

/// `POST /ui/account/sessions/revoke`: ends one of the user's own sessions (this one too,
/// which signs this browser out).
pub async fn revoke_session(
    req: PageRequest,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Response {
    let (claims, form) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    if let Some(answer) = enrolment_only(&req, &claims).await {
        return answer;
    }
    let session_id = form.session_id.unwrap_or_default();
    if let Err(e) = account::revoke_session(&req.ctx, &claims.id, &session_id).await {
        return refused(&req, &claims, e, "sessions").await;
    }
    if session_id == claims.sid {
        let mut headers = HeaderMap::new();
        cookies::clear_browser_session(&mut headers, &req.ctx.config.pages, req.secure_cookies());
        return req.see_other(&req.path("/login"), headers);
    }
    account_page(
        &req,
        &claims,
        Some(EN.session_revoked.into()),
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct DeleteForm {
    csrf: Option<String>,
    password: Option<String>,
    code: Option<String>,
}

/// `POST /ui/account/delete`: with the password (when the account has one) and, with 2FA on,
/// a code.
pub async fn delete(req: PageRequest, form: Result<Form<DeleteForm>, FormRejection>) -> Response {
    let (claims, form) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    if let Some(answer) = enrolment_only(&req, &claims).await {
        return answer;
    }
    let user = match account::current_user(&req.ctx, &claims.id).await {
        Ok(u) => u,
        Err(e) => return req.failure_page(e).await,
    };
    if user.password_hash.is_some() {
        if let Err(e) =
            account::confirm_password(&req.ctx, &req.client, &user.id, form.password.as_deref())
                .await
        {
            return refused(&req, &claims, e, "delete").await;
        }
    }
    let code = code_of(form.code.as_deref());
    if let Err(e) = account::delete_account(&req.ctx, req.client.clone(), &user.id, code).await {
        return refused(&req, &claims, e, "delete").await;
    }
    let mut headers = HeaderMap::new();
    cookies::clear_browser_session(&mut headers, &req.ctx.config.pages, req.secure_cookies());
    let page = super::errors::MessagePage {
        c: Chrome {
            signed_in: false,
            ..req.chrome()
        },
        heading: EN.delete_account.into(),
        notice: Some(EN.account_deleted.into()),
        error: None,
        link: None,
    };
    req.render_with(StatusCode::OK, &page, headers)
}
