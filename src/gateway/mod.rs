//! The chat gateway: Bouncer in front of a chat backend. `admit` is the one decision for both
//! the reverse proxy and the forward-auth endpoint: public path, or a valid access token of a
//! user who is not banned; and for chat messages, the non-browser check, the message limiters
//! and (for the proxy) a concurrency slot. All of it in memory: no database round trip.

pub mod forward_auth;
pub mod proxy;
pub mod target;

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppContext;
use crate::config::gateway::any_matches;
use crate::error::Error;
use crate::http::extract::bearer_token;
use crate::moderation::user_agent::is_browser;
use crate::moderation::Subject;
use crate::sessions::AccessClaims;
use target::Target;

/// The identity headers Bouncer adds for the upstream; copies sent by clients are removed.
pub const USER_ID_HEADER: &str = "x-auth-user-id";
pub const USER_EMAIL_HEADER: &str = "x-auth-user-email";
pub const USER_ROLE_HEADER: &str = "x-auth-user-role";
const IDENTITY_PREFIX: &str = "x-auth-user-";

/// A request let through.
pub struct Admitted {
    /// `None` on a public path.
    pub claims: Option<AccessClaims>,
    /// A concurrency slot held for this user until the response ends.
    pub slot: Option<Slot>,
}

/// A held chat-request slot (`LIMIT_CONCURRENT_MESSAGES`), given back when dropped: when the
/// upstream's response has been streamed to the end, or the client went away.
pub struct Slot {
    ctx: Arc<AppContext>,
    user_id: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Outside a runtime (the process is ending) there is nothing left to give back to.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let ctx = self.ctx.clone();
        let user_id = std::mem::take(&mut self.user_id);
        runtime.spawn(async move {
            let _ = ctx.moderation.leave(&user_id).await;
        });
    }
}

/// Whether the client reads a stream (so a refusal comes as an SSE `error` event).
fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// An SSE `event: error` frame, LibreChat's way of refusing a chat stream.
pub fn sse_error(status: StatusCode, message: &str) -> Response {
    let data = json!({ "message": message });
    (
        status,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        format!("event: error\ndata: {data}\n\n"),
    )
        .into_response()
}

fn limited(e: Error, sse: bool) -> Response {
    match (e, sse) {
        (Error::RateLimited(message), true) => sse_error(StatusCode::TOO_MANY_REQUESTS, &message),
        (e, _) => e.into_response(),
    }
}

/// Decides whether a request may go on to the chat backend. `Err` is the answer to send. The
/// decision is made on `target`'s canonical path, which is also the path forwarded.
pub async fn admit(
    ctx: &Arc<AppContext>,
    method: &Method,
    target: &Target,
    headers: &HeaderMap,
    ip: IpAddr,
    hold_slot: bool,
) -> Result<Admitted, Response> {
    let gateway = &ctx.config.gateway;
    let path = target.path();
    if any_matches(&gateway.public_paths, path) {
        return Ok(Admitted {
            claims: None,
            slot: None,
        });
    }
    ctx.moderation
        .check(ip, None)
        .map_err(IntoResponse::into_response)?;
    let claims = ctx
        .sessions
        .authenticate(bearer_token(headers))
        .map_err(IntoResponse::into_response)?;
    if claims.scope.is_some() {
        return Err(Error::TwoFactorSetupRequired.into_response());
    }
    ctx.moderation
        .check(ip, Some(&claims.id))
        .map_err(IntoResponse::into_response)?;
    let mut slot = None;
    // Express, LibreChat's server, routes without regard to case: so does this check.
    let route = path.to_ascii_lowercase();
    if method == Method::POST && any_matches(&gateway.message_routes, &route) {
        let user = Subject::User { id: &claims.id, ip };
        let moderation = &ctx.config.moderation;
        let sessions = &ctx.sessions;
        if !any_matches(&gateway.non_browser_exempt, &route)
            && !is_browser(
                headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok()),
            )
        {
            ctx.moderation
                .violation(user, "non_browser", moderation.scores.non_browser, sessions)
                .await
                .map_err(IntoResponse::into_response)?;
            // LibreChat answers 200 with an SSE error frame.
            return Err(sse_error(StatusCode::OK, "Illegal request"));
        }
        let sse = wants_stream(headers);
        let limiters = &ctx.moderation.limiters;
        if moderation.limit_message_ip {
            ctx.moderation
                .limit_scoring(&limiters.message_ip, Subject::Ip(ip), user, sessions)
                .await
                .map_err(|e| limited(e, sse))?;
        }
        if moderation.limit_message_user {
            ctx.moderation
                .limit(&limiters.message_user, user, sessions)
                .await
                .map_err(|e| limited(e, sse))?;
        }
        if hold_slot && moderation.limit_concurrent_messages {
            let entered = ctx
                .moderation
                .enter(&claims.id, ip, sessions)
                .await
                .map_err(IntoResponse::into_response)?;
            if !entered {
                let body = json!({
                    "type": "concurrent",
                    "limit": moderation.concurrent_message_max,
                    "pendingRequests": moderation.concurrent_message_max,
                    "score": moderation.scores.concurrent,
                    "message": "Too many concurrent requests, please wait for one to finish.",
                });
                return Err((StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response());
            }
            slot = Some(Slot {
                ctx: ctx.clone(),
                user_id: claims.id.clone(),
            });
        }
    }
    Ok(Admitted {
        claims: Some(claims),
        slot,
    })
}

/// Whether a client's header must not reach the upstream: an identity header, or any name with
/// an underscore. CGI, WSGI and many frameworks read `X_Auth_User_Id` as `X-Auth-User-Id` (and
/// `X_Forwarded_For` as `X-Forwarded-For`), so underscored names are dropped altogether, as
/// nginx does by default.
fn is_spoofable(name: &HeaderName) -> bool {
    let name = name.as_str();
    name.contains('_') || name.starts_with(IDENTITY_PREFIX)
}

/// Removes every identity header a client sent (and every underscored header), and adds the
/// user's own.
pub fn set_identity(headers: &mut HeaderMap, claims: Option<&AccessClaims>) {
    let spoofed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| is_spoofable(k))
        .cloned()
        .collect();
    for name in spoofed {
        headers.remove(name);
    }
    let Some(c) = claims else {
        return;
    };
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    put(USER_ID_HEADER, &c.id);
    put(USER_EMAIL_HEADER, &c.email);
    put(USER_ROLE_HEADER, c.role.as_deref().unwrap_or("USER"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_lookalikes_and_underscored_headers_are_dropped() {
        let mut headers = HeaderMap::new();
        for name in [
            "x-auth-user-id",
            "X-Auth-User-Role",
            "x_auth_user_id",
            "X_Auth_User_Role",
            "x-auth_user-email",
            "x_forwarded_for",
            "authorization_",
        ] {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                "spoof".parse().unwrap(),
            );
        }
        headers.insert("accept", "text/html".parse().unwrap());
        set_identity(&mut headers, None);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert!(headers.contains_key("accept"));
    }
}
