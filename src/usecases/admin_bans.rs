//! What an operator does to bans: list those in force, ban a user, an address or a network for
//! a while with a reason, and lift a ban. The bans are the moderation system's own: stored,
//! loaded into memory at once here and nudged to the other instances, so the banned client is
//! refused at once; a banned user's sessions end.

use ipnet::IpNet;
use serde::Serialize;

use super::admin::Actor;
use crate::app::AppContext;
use crate::audit::Kind;
use crate::config::values::MAX_DURATION_MS;
use crate::error::{Error, Result};
use crate::moderation::bans::BanKind;
use crate::moderation::ip_prefix;
use crate::store::bans::{Ban, NotedBan};
use crate::store::users::User;

/// The violation type of an operator's ban (automatic bans name their limiter).
pub const OPERATOR: &str = "operator";
/// The longest reason kept.
const REASON_MAX: usize = 500;
/// The widest networks an operator may ban: wider would take out a large part of the
/// internet, most likely by a typo.
const IPV4_PREFIX_MIN: u8 = 8;
const IPV6_PREFIX_MIN: u8 = 16;

/// Reads `30s`, `90m`, `2h`, `1d` or plain milliseconds (as `bouncer ban-user` does).
pub fn parse_duration(text: &str) -> Result<i64> {
    let text = text.trim();
    let bad = || {
        Error::BadRequest(format!(
            "duration: {text:?} is not a duration; use e.g. 30s, 90m, 2h, 1d or milliseconds"
        ))
    };
    let (digits, unit_ms) = match text.char_indices().last() {
        Some((i, 's')) => (&text[..i], 1_000),
        Some((i, 'm')) => (&text[..i], 60_000),
        Some((i, 'h')) => (&text[..i], 3_600_000),
        Some((i, 'd')) => (&text[..i], 86_400_000),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(unit_ms).ok_or_else(bad)
}

/// Whom a ban names, as the operator gives it.
#[derive(Debug, Clone)]
pub enum BanTarget {
    /// A user id, or an email.
    User(String),
    /// An address or a network (`10.0.0.0/8`); an IPv6 address is banned as its prefix
    /// (`IPV6_PREFIX_LENGTH`), like the automatic bans.
    Ip(String),
}

#[derive(Debug, Clone)]
pub struct NewBan {
    /// 1 ms ..= 100 years.
    pub target: BanTarget,
    pub duration_ms: i64,
    pub reason: Option<String>,
}

/// A ban in force as the operator sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BanEntry {
    /// `user` or `ip`.
    pub kind: String,
    /// The user id, or the address or network.
    pub subject: String,
    /// The banned user's email, while the user exists.
    pub email: Option<String>,
    /// The limiter whose violations banned, or `operator`.
    pub violation_type: String,
    pub reason: Option<String>,
    /// The admin who banned (their id), or `cli`; `None` for an automatic ban.
    pub created_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl From<NotedBan> for BanEntry {
    fn from(b: NotedBan) -> Self {
        Self {
            kind: b.kind,
            subject: b.subject,
            email: b.email,
            violation_type: b.violation_type,
            reason: b.reason,
            created_by: b.created_by,
            created_at: b.created_at,
            expires_at: b.expires_at,
        }
    }
}

/// The bans in force, newest first.
pub async fn list_bans(ctx: &AppContext, _by: &Actor) -> Result<Vec<BanEntry>> {
    Ok(
        crate::store::bans::active_noted(&ctx.db, ctx.clock.now_ms())
            .await?
            .into_iter()
            .map(BanEntry::from)
            .collect(),
    )
}

/// The user a target names: by id, or by email when it holds an `@`.
async fn target_user(ctx: &AppContext, who: &str) -> Result<User> {
    let who = who.trim();
    if who.is_empty() {
        return Err(Error::BadRequest("user: required".into()));
    }
    if who.contains('@') {
        super::operator::find_user(ctx, who).await
    } else {
        super::admin_users::find(ctx, who).await
    }
}

/// The network an IP target names.
fn target_net(ctx: &AppContext, text: &str) -> Result<IpNet> {
    let text = text.trim();
    let net = match text.parse::<std::net::IpAddr>() {
        Ok(ip) => ip_prefix::client_net(
            crate::moderation::client_ip::normalize(ip),
            ctx.config.moderation.ipv6_prefix_length,
        ),
        Err(_) => ip_prefix::parse_subject(text).ok_or_else(|| {
            Error::BadRequest(format!(
                "ip: {text:?} is not an address or a network (1.2.3.4, 10.0.0.0/8, 2001:db8::/48)"
            ))
        })?,
    };
    let min = match net {
        IpNet::V4(_) => IPV4_PREFIX_MIN,
        IpNet::V6(_) => IPV6_PREFIX_MIN,
    };
    if net.prefix_len() < min {
        return Err(Error::BadRequest(format!(
            "ip: {net} is too wide a network to ban (at least /{min})"
        )));
    }
    Ok(net)
}

fn checked_reason(reason: Option<String>) -> Result<Option<String>> {
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > REASON_MAX)
    {
        return Err(Error::BadRequest(format!(
            "reason: at most {REASON_MAX} characters"
        )));
    }
    Ok(reason)
}

/// Bans a user (their sessions end) or an address or network, for `duration_ms`.
pub async fn ban(ctx: &AppContext, by: &Actor, new: NewBan) -> Result<BanEntry> {
    if !(1..=MAX_DURATION_MS).contains(&new.duration_ms) {
        return Err(Error::BadRequest(
            "duration: must be a positive duration of at most 100 years".into(),
        ));
    }
    let reason = checked_reason(new.reason)?;
    let now = ctx.clock.now_ms();
    let (kind, subject, user) = match &new.target {
        BanTarget::User(who) => {
            let user = target_user(ctx, who).await?;
            if by.admin_id() == Some(user.id.as_str()) {
                return Err(Error::Conflict("An admin cannot ban themselves.".into()));
            }
            (BanKind::User, user.id.clone(), Some(user))
        }
        BanTarget::Ip(text) => {
            let net = target_net(ctx, text)?;
            if let Actor::Admin(admin) = by {
                if net.contains(&crate::moderation::client_ip::normalize(admin.client.ip)) {
                    return Err(Error::Conflict(
                        "This ban would cover your own address.".into(),
                    ));
                }
            }
            (BanKind::Ip, ip_prefix::subject_text(net), None)
        }
    };
    let created_by = by.admin_id().unwrap_or("cli").to_string();
    let row = Ban {
        kind: kind.as_str().to_string(),
        subject: subject.clone(),
        user_id: user.as_ref().map(|u| u.id.clone()),
        violation_type: OPERATOR.to_string(),
        score: 0,
        duration_ms: new.duration_ms,
        created_at: now,
        expires_at: now + new.duration_ms,
    };
    crate::store::bans::upsert_noted(&ctx.db, &row, reason.as_deref(), Some(&created_by)).await?;
    // In force here at once, and on the other instances at their nudge.
    ctx.moderation.sync_bans().await?;
    ctx.changes.announce();
    if let Some(user) = &user {
        ctx.sessions.revoke_all_for_user(&user.id).await?;
    }
    let mut event = by
        .event(Kind::Banned, user.as_ref().map(|u| u.id.as_str()))
        .detail("kind", kind.as_str())
        .detail("subject", subject.as_str())
        .detail("duration_ms", new.duration_ms);
    if let Some(reason) = &reason {
        event = event.detail("reason", reason.as_str());
    }
    by.record(ctx, event);
    ctx.metrics.ban_issued(kind.as_str());
    tracing::warn!(kind = kind.as_str(), subject = %subject, by = %created_by, duration_ms = new.duration_ms, "operator ban");
    Ok(BanEntry {
        kind: kind.as_str().to_string(),
        subject,
        email: user.map(|u| u.email),
        violation_type: OPERATOR.to_string(),
        reason,
        created_by: Some(created_by),
        created_at: now,
        expires_at: row.expires_at,
    })
}

/// Lifts the ban of a user, or the IP bans that cover or lie inside an address or network.
/// Returns the subjects lifted; `NotFound` when none was in force.
pub async fn lift(ctx: &AppContext, by: &Actor, target: BanTarget) -> Result<Vec<String>> {
    let (kind, lifted, user_id) = match &target {
        BanTarget::User(who) => {
            let user = target_user(ctx, who).await?;
            let lifted = ctx.moderation.unban(BanKind::User, &user.id).await?;
            let subjects = if lifted {
                vec![user.id.clone()]
            } else {
                vec![]
            };
            (BanKind::User, subjects, Some(user.id))
        }
        BanTarget::Ip(text) => {
            let net = target_net(ctx, text)?;
            (BanKind::Ip, ctx.moderation.unban_ip(net).await?, None)
        }
    };
    if lifted.is_empty() {
        return Err(Error::NotFound("No ban in force for this target".into()));
    }
    for subject in &lifted {
        by.record(
            ctx,
            by.event(Kind::Unbanned, user_id.as_deref())
                .detail("kind", kind.as_str())
                .detail("subject", subject.as_str()),
        );
    }
    Ok(lifted)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_in_units_or_milliseconds() {
        assert_eq!(parse_duration("30s").unwrap(), 30_000);
        assert_eq!(parse_duration(" 2h ").unwrap(), 7_200_000);
        assert_eq!(parse_duration("1d").unwrap(), 86_400_000);
        assert_eq!(parse_duration("5000").unwrap(), 5_000);
        for bad in [
            "",
            "h",
            "-5m",
            "+5m",
            "1.5h",
            "2 hours",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
