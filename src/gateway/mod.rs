//! The chat gateway on the wire: Bouncer in front of a chat backend, as a reverse proxy
//! (`proxy.rs`) or as the forward-auth endpoint of nginx, Traefik or Caddy (`forward_auth.rs`).
//! The decision itself is the use case `usecases::chat_access::admit`; this folder reads the
//! request for it, puts its refusals on the wire (an SSE error frame where the client reads a
//! stream, as LibreChat does) and sets the identity headers.

pub mod forward_auth;
pub mod proxy;

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::AppContext;
use crate::error::Error;
use crate::http::error_response::sse_error;
use crate::http::extract::bearer_token;
use crate::request_target::Target;
use crate::sessions::AccessClaims;
use crate::usecases::chat_access::{self, Admitted, ChatRequest, Host};
use crate::usecases::Client;

/// The identity headers Bouncer adds for the upstream; copies sent by clients are removed.
pub const USER_ID_HEADER: &str = "x-auth-user-id";
pub const USER_EMAIL_HEADER: &str = "x-auth-user-email";
pub const USER_ROLE_HEADER: &str = "x-auth-user-role";
const IDENTITY_PREFIX: &str = "x-auth-user-";
/// The same identity in the names Authelia and its peers use, so apps that trust those work
/// unchanged: the username (the id when there is none), the email, the display name, the role.
pub const REMOTE_USER_HEADER: &str = "remote-user";
pub const REMOTE_EMAIL_HEADER: &str = "remote-email";
pub const REMOTE_NAME_HEADER: &str = "remote-name";
pub const REMOTE_GROUPS_HEADER: &str = "remote-groups";
const REMOTE_PREFIX: &str = "remote-";

/// Whether the client reads a stream (so a refusal comes as an SSE `error` event).
fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// A refusal on the wire: a rate limit is an SSE error frame for a client reading a stream.
pub(crate) fn refusal(e: Error, headers: &HeaderMap) -> Response {
    match e {
        Error::RateLimited(message) if wants_stream(headers) => {
            sse_error(StatusCode::TOO_MANY_REQUESTS, &message)
        }
        Error::Banned { .. } if wants_stream(headers) => {
            sse_error(StatusCode::FORBIDDEN, crate::http::error_response::BANNED)
        }
        e => e.into_response(),
    }
}

/// Reads the request for the gateway's decision (`chat_access::admit`); `Err` is the refusal,
/// for `refusal` (or forward-auth's sign-in redirect) to put on the wire.
pub async fn admit(
    ctx: &Arc<AppContext>,
    method: &Method,
    target: &Target,
    headers: &HeaderMap,
    ip: IpAddr,
    hold_slot: bool,
    host: Host<'_>,
) -> Result<Admitted, Error> {
    let browser_session = crate::http::cookies::browser_session(headers, &ctx.config.pages);
    let request = ChatRequest {
        client: Client::at(ip),
        is_post: method == Method::POST,
        target,
        bearer: bearer_token(headers),
        browser_session: browser_session.as_deref(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        hold_slot,
        host,
    };
    chat_access::admit(ctx, &request).await
}

/// Whether a client's header must not reach the upstream: an identity header (`X-Auth-User-*`,
/// `Remote-*`), or any name with an underscore. CGI, WSGI and many frameworks read `X_Auth_User_Id` as `X-Auth-User-Id` (and
/// `X_Forwarded_For` as `X-Forwarded-For`), so underscored names are dropped altogether, as
/// nginx does by default.
fn is_spoofable(name: &HeaderName) -> bool {
    let name = name.as_str();
    name.contains('_') || name.starts_with(IDENTITY_PREFIX) || name.starts_with(REMOTE_PREFIX)
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
    let role = c.role.as_deref().unwrap_or("USER");
    put(USER_ROLE_HEADER, role);
    let user = if c.username.is_empty() {
        &c.id
    } else {
        &c.username
    };
    put(REMOTE_USER_HEADER, user);
    put(REMOTE_EMAIL_HEADER, &c.email);
    // Always set, so a proxy that copies it (Caddy's `copy_headers`) always overwrites a
    // client's copy: the display name, else the user's name above.
    let name = c
        .name
        .as_deref()
        .filter(|n| HeaderValue::from_str(n).is_ok())
        .unwrap_or(user);
    put(REMOTE_NAME_HEADER, name);
    put(REMOTE_GROUPS_HEADER, role);
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
            "Remote-User",
            "remote-email",
            "REMOTE-NAME",
            "Remote-Groups",
            "remote_user",
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

    fn claims(username: &str, name: Option<&str>) -> AccessClaims {
        AccessClaims {
            id: "64a1b2c3d4e5f60718293a4b".into(),
            username: username.into(),
            provider: "local".into(),
            email: "ada@example.com".into(),
            sid: "s".into(),
            role: Some("ADMIN".into()),
            scope: None,
            name: name.map(str::to_string),
            typ: None,
            iat: 0,
            exp: 1,
        }
    }

    #[test]
    fn the_remote_headers_name_the_user_and_replace_the_clients() {
        let mut headers = HeaderMap::new();
        headers.insert("remote-user", "root".parse().unwrap());
        headers.insert("remote-name", "Root".parse().unwrap());
        set_identity(&mut headers, Some(&claims("ada", Some("Ada Lovelace"))));
        assert_eq!(headers["remote-user"], "ada");
        assert_eq!(headers["remote-email"], "ada@example.com");
        assert_eq!(headers["remote-name"], "Ada Lovelace");
        assert_eq!(headers["remote-groups"], "ADMIN");
        assert_eq!(headers["x-auth-user-role"], "ADMIN");
        assert_eq!(headers.get_all("remote-user").iter().count(), 1);

        // No username: the id; no name, or one that is no header value: the user's name
        // stands in, and the client's copy is gone all the same.
        let mut headers = HeaderMap::new();
        headers.insert("remote-name", "Root".parse().unwrap());
        set_identity(&mut headers, Some(&claims("", Some("Ada\nX-Evil: 1"))));
        assert_eq!(headers["remote-user"], "64a1b2c3d4e5f60718293a4b");
        assert_eq!(headers["remote-name"], "64a1b2c3d4e5f60718293a4b");
        set_identity(&mut headers, Some(&claims("ada", None)));
        assert_eq!(headers["remote-name"], "ada");
    }
}
