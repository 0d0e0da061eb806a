//! The gateway's one decision, for the reverse proxy and for forward-auth alike: may this
//! request go on to the chat backend? A public path, or a valid access token (or browser
//! session cookie) of a user who is not banned and whose role `ACCESS_RULES` lets through; and
//! for a chat message, the non-browser check, the message limiters and (for the
//! proxy) a concurrency slot. All of it in memory: no database round trip.

use std::net::IpAddr;
use std::sync::Arc;

use super::access::{self, Access};
use super::Client;
use crate::app::AppContext;
use crate::config::gateway::any_matches;
use crate::error::{Error, Result};
use crate::moderation::user_agent::is_browser;
use crate::moderation::Subject;
use crate::request_target::Target;
use crate::sessions::AccessClaims;

/// The request as far as the decision reads it.
pub struct ChatRequest<'a> {
    pub client: Client,
    /// `POST` or not: only a POST to a message route is a chat message.
    pub is_post: bool,
    /// The canonical target: the path decided on is the path forwarded.
    pub target: &'a Target,
    /// The `Authorization: Bearer` token, if any.
    pub bearer: Option<&'a str>,
    /// The sign-in pages' single-sign-on cookie, if any: read only when there is no Bearer
    /// token (a browser on a portal behind forward-auth).
    pub browser_session: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// Hold a concurrency slot for a chat message until the response ends (the proxy does;
    /// forward-auth cannot know when the response ends).
    pub hold_slot: bool,
    /// The host `ACCESS_RULES` are matched with.
    pub host: Host<'a>,
}

/// The host of the request, as far as `ACCESS_RULES` go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// The reverse proxy: one upstream whatever `Host` a client sends, so a rule's host is not
    /// compared (a client could name another host to slip past a rule) and the path decides.
    AnyHost,
    /// Forward-auth: the host the proxy named (`X-Forwarded-Host`), lower case, no port.
    Named(&'a str),
    /// Forward-auth without exactly one `X-Forwarded-Host`.
    Unknown,
}

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

/// Decides. The refusals are domain errors: `Banned`, `Unauthorized`, `RateLimited`,
/// `NonBrowser`, `TooManyConcurrent`, … which the gateway puts on the wire (as an SSE error
/// frame where the client reads a stream, as LibreChat does).
pub async fn admit(ctx: &Arc<AppContext>, request: &ChatRequest<'_>) -> Result<Admitted> {
    let gateway = &ctx.config.gateway;
    let path = request.target.path();
    if any_matches(&gateway.public_paths, path) {
        return Ok(Admitted {
            claims: None,
            slot: None,
        });
    }
    let ip = request.client.ip;
    // A banned IP is refused before its token is looked at.
    ctx.moderation.check(ip, None)?;
    let claims = match (request.bearer, request.browser_session) {
        (None, Some(cookie)) => {
            access::authenticate_browser(ctx, &request.client, Some(cookie), Access::Full)?
        }
        (bearer, _) => access::authenticate_gateway(ctx, &request.client, bearer, Access::Full)?,
    };
    check_rules(ctx, request, &claims)?;
    limit_api_key(ctx, &claims, ip).await?;
    // Express, LibreChat's server, routes without regard to case: so do these checks.
    let route = path.to_ascii_lowercase();
    limit_route(ctx, request.is_post, &route, &claims, ip).await?;
    if !request.is_post || !any_matches(&gateway.message_routes, &route) {
        return Ok(Admitted {
            claims: Some(claims),
            slot: None,
        });
    }
    let slot = limit_message(ctx, request, &claims, &route, ip).await?;
    Ok(Admitted {
        claims: Some(claims),
        slot,
    })
}

/// `ACCESS_RULES`: the first rule about this host and path names the roles that may pass;
/// without one, any signed-in user does.
fn check_rules(ctx: &AppContext, request: &ChatRequest<'_>, claims: &AccessClaims) -> Result<()> {
    let rules = &ctx.config.gateway.access_rules;
    if rules.is_empty() {
        return Ok(());
    }
    let host =
        match request.host {
            Host::AnyHost => None,
            Host::Named(h) => Some(h),
            // Fail closed: a rule for this host could not be found without its name.
            Host::Unknown => return Err(Error::BadRequest(
                "forward-auth needs exactly one X-Forwarded-Host header when ACCESS_RULES is set"
                    .into(),
            )),
        };
    // Compared without regard to case, as Express routes: `/Admin` is `/admin` to many backends.
    let path = request.target.path().to_ascii_lowercase();
    let Some(rule) = rules.iter().find(|r| r.applies(host, &path)) else {
        return Ok(());
    };
    let role = claims.role.as_deref().unwrap_or("USER");
    if rule.allows(role) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "Your role may not use this address".into(),
        ))
    }
}

/// A request made with an API key counts in that key's own window (`API_KEY_LIMIT_*`), beside
/// the per-user limiters every request of its owner counts in; a violation scores the user.
async fn limit_api_key(ctx: &AppContext, claims: &AccessClaims, ip: IpAddr) -> Result<()> {
    if claims.typ.as_deref() != Some(crate::api_keys::API_KEY_TYP) {
        return Ok(());
    }
    let user = Subject::User { id: &claims.id, ip };
    ctx.moderation
        .limit_within(&ctx.api_keys.limiter, &claims.sid, user)
        .await
}

/// LibreChat's limiters of its other costly routes (speech, uploads, import, fork, tool calls,
/// prompt usage): the first whose routes hold this one counts it, per IP and per user; a
/// violation of either is scored against the user, from this IP (LibreChat scores users only).
async fn limit_route(
    ctx: &AppContext,
    is_post: bool,
    route: &str,
    claims: &AccessClaims,
    ip: IpAddr,
) -> Result<()> {
    let limiters = &ctx.moderation.limiters.routes;
    let Some(limiter) = limiters.iter().find(|l| l.applies(is_post, route)) else {
        return Ok(());
    };
    let user = Subject::User { id: &claims.id, ip };
    if let Some(per_ip) = &limiter.ip {
        ctx.moderation
            .limit_scoring(per_ip, Subject::Ip(ip), user)
            .await?;
    }
    if let Some(per_user) = &limiter.user {
        ctx.moderation.limit(per_user, user).await?;
    }
    Ok(())
}

/// The rules of a chat message: the non-browser check, the message limiters, the slot.
async fn limit_message(
    ctx: &Arc<AppContext>,
    request: &ChatRequest<'_>,
    claims: &AccessClaims,
    route: &str,
    ip: IpAddr,
) -> Result<Option<Slot>> {
    let gateway = &ctx.config.gateway;
    let moderation = &ctx.config.moderation;
    let user = Subject::User { id: &claims.id, ip };
    if !any_matches(&gateway.non_browser_exempt, route) && !is_browser(request.user_agent) {
        ctx.moderation
            .violation(user, "non_browser", moderation.scores.non_browser)
            .await?;
        return Err(Error::NonBrowser);
    }
    let limiters = &ctx.moderation.limiters;
    if moderation.limit_message_ip {
        ctx.moderation
            .limit_scoring(&limiters.message_ip, Subject::Ip(ip), user)
            .await?;
    }
    if moderation.limit_message_user {
        ctx.moderation.limit(&limiters.message_user, user).await?;
    }
    if !(request.hold_slot && moderation.limit_concurrent_messages) {
        return Ok(None);
    }
    if !ctx.moderation.enter(&claims.id, ip).await? {
        return Err(Error::TooManyConcurrent {
            limit: moderation.concurrent_message_max,
            score: moderation.scores.concurrent,
        });
    }
    Ok(Some(Slot {
        ctx: ctx.clone(),
        user_id: claims.id.clone(),
    }))
}
