//! What every page shares: the request as the pages read it (client, CSRF cookie, browser
//! session), the frame around each template (branding, the CSRF token), and rendering.

use std::sync::Arc;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::csrf;
use super::text::{Text, EN};
use crate::app::AppContext;
use crate::http::cookies;
use crate::http::extract::ClientIp;
use crate::sessions::AccessClaims;
use crate::usecases::access::{self, Access};
use crate::usecases::Client;

/// A request to a page: who asks, their CSRF cookie, and their browser session if it is
/// valid (signature, expiry, not revoked, not banned).
pub struct PageRequest {
    pub ctx: Arc<AppContext>,
    pub client: Client,
    pub headers: HeaderMap,
    pub csrf_browser: String,
    pub new_csrf_cookie: Option<HeaderValue>,
    /// The browser session's identity; also an enrolment-only one (`REQUIRE_2FA`).
    pub session: Option<AccessClaims>,
    /// The session cookie as sent (for signing out).
    pub session_cookie: Option<String>,
}

impl FromRequestParts<Arc<AppContext>> for PageRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<AppContext>,
    ) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, ctx).await?;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let client = Client::browser(ip, user_agent);
        let (csrf_browser, new_csrf_cookie) = csrf::browser_value(ctx, &parts.headers);
        let session_cookie = cookies::browser_session(&parts.headers, &ctx.config.pages);
        let session = session_cookie.as_deref().and_then(|cookie| {
            access::authenticate_browser(ctx, &client, Some(cookie), Access::Enrolment).ok()
        });
        Ok(Self {
            ctx: ctx.clone(),
            client,
            headers: parts.headers.clone(),
            csrf_browser,
            new_csrf_cookie,
            session,
            session_cookie,
        })
    }
}

/// The frame of every page: branding, navigation and the form token.
pub struct Chrome {
    pub app_title: String,
    pub prefix: String,
    pub logo_url: Option<String>,
    pub csrf: String,
    pub signed_in: bool,
    pub t: &'static Text,
}

impl PageRequest {
    pub fn chrome(&self) -> Chrome {
        let pages = &self.ctx.config.pages;
        Chrome {
            app_title: self.ctx.config.client.app_title.clone(),
            prefix: pages.prefix.clone(),
            logo_url: pages.logo_url.clone(),
            csrf: csrf::token(
                &self.ctx,
                &self.csrf_browser,
                self.session.as_ref().map(|s| s.sid.as_str()),
            ),
            signed_in: self.session.is_some(),
            t: &EN,
        }
    }

    /// Whether a submitted form carries this browser's token.
    pub fn csrf_ok(&self, submitted: Option<&str>) -> bool {
        csrf::check(
            &self.ctx,
            &self.headers,
            submitted,
            self.session.as_ref().map(|s| s.sid.as_str()),
        )
    }

    /// A page.
    pub fn render(&self, status: StatusCode, page: &impl Template) -> Response {
        self.render_with(status, page, HeaderMap::new())
    }

    /// A page with extra headers (cookies).
    pub fn render_with(
        &self,
        status: StatusCode,
        page: &impl Template,
        mut headers: HeaderMap,
    ) -> Response {
        csrf::set_cookie(&mut headers, self.new_csrf_cookie.clone());
        match page.render() {
            Ok(html) => (
                status,
                headers,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            Err(e) => {
                tracing::error!(error = %e, "a page template failed to render");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
            }
        }
    }

    /// `303 See Other` to `to` (after a form), with extra headers.
    pub fn see_other(&self, to: &str, mut headers: HeaderMap) -> Response {
        csrf::set_cookie(&mut headers, self.new_csrf_cookie.clone());
        let location = HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/"));
        headers.insert(header::LOCATION, location);
        (StatusCode::SEE_OTHER, headers).into_response()
    }

    /// A path under the pages' prefix.
    pub fn path(&self, rest: &str) -> String {
        format!("{}{rest}", self.ctx.config.pages.prefix)
    }

    /// The checked return address of a form or query (`rd`), if it may be followed.
    pub fn return_to(&self, raw: Option<&str>) -> Option<String> {
        raw.and_then(|raw| {
            crate::return_to::check(
                raw,
                &self.ctx.config.pages,
                &self.ctx.config.client.domain_server,
            )
        })
    }

    /// Where the browser goes after signing in: the return address, else the account page.
    pub fn after_sign_in(&self, rd: Option<&str>) -> String {
        self.return_to(rd).unwrap_or_else(|| self.path("/account"))
    }

    pub fn secure_cookies(&self) -> bool {
        self.ctx.config.sessions.secure_cookies
    }
}

/// A page's text with the application's name put in.
pub fn with_app(text: &str, app: &str) -> String {
    text.replace("{app}", app)
}
