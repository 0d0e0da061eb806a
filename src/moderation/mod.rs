//! The Automated Moderation System: limiters, violation scores, and bans of users and IPs.
//!
//! LibreChat's arithmetic (spec §5.2) with Bouncer's changes (DESIGN §4): violations of the
//! anonymous limiters (login, register, reset, verify) count against the client IP, so abuse
//! leads to an IP ban without anyone being able to get a victim's account banned; bans are on
//! by default, stored in the database, and checked in memory.

pub mod bans;
pub mod client_ip;
pub mod content;
pub mod ip_prefix;
pub mod limiter;
pub mod models;
pub mod redis_state;
pub mod state;
pub mod user_agent;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ipnet::IpNet;

use crate::audit::{Audit, Event, Kind as AuditKind};
use crate::change_feed::ChangeFeed;
use bans::{crosses_interval, BanKind, BanList};
pub use limiter::{Limiter, Limiters};
pub use state::{MemoryState, ModerationState};

use crate::clock::Clock;
use crate::config::ModerationConfig;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::sessions::Sessions;
use crate::store::{self, bans::Ban, Db};

/// Who a violation is counted against.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// An anonymous client.
    Ip(IpAddr),
    /// A signed-in user (or the user a 2FA temp token names), from this IP.
    User { id: &'a str, ip: IpAddr },
}

impl Subject<'_> {
    /// The key of its limiter windows and violation scores: `user:<id>`, or `ip:<subject>`
    /// where an IPv6 client is its prefix (`ip:2001:db8:1:2::/64`, see `ip_prefix`).
    fn key(&self, ipv6_prefix_length: u8) -> String {
        match self {
            Subject::Ip(ip) => format!(
                "ip:{}",
                ip_prefix::subject_text(ip_prefix::client_net(*ip, ipv6_prefix_length))
            ),
            Subject::User { id, .. } => format!("user:{id}"),
        }
    }
}

/// How long an in-flight counter survives without news (LibreChat: 1 minute).
const IN_FLIGHT_TTL_MS: i64 = 60_000;

pub struct Moderation {
    config: ModerationConfig,
    pub limiters: Limiters,
    state: Arc<dyn ModerationState>,
    /// Failed calls to the state's store (Redis down): the system fails open, see `degraded`.
    state_errors: AtomicU64,
    bans: BanList,
    db: Db,
    clock: Arc<dyn Clock>,
    changes: Arc<ChangeFeed>,
    /// A ban ends the banned user's sessions at once.
    sessions: Arc<Sessions>,
    /// Where the automatic bans are recorded (an operator's ban is recorded by its use case,
    /// with the acting admin).
    audit: Arc<Audit>,
    /// Violations, bans and limiter refusals are counted here.
    metrics: Metrics,
}

impl Moderation {
    /// Builds the service on a state store (memory, or Redis) and loads the bans in force.
    pub async fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        config: ModerationConfig,
        state: Arc<dyn ModerationState>,
        changes: Arc<ChangeFeed>,
        sessions: Arc<Sessions>,
        audit: Arc<Audit>,
    ) -> Result<Self> {
        let moderation = Self {
            limiters: Limiters::new(&config),
            config,
            state,
            state_errors: AtomicU64::new(0),
            bans: BanList::default(),
            db,
            clock,
            changes,
            sessions,
            audit,
            metrics: Metrics::disabled(),
        };
        moderation.sync_bans().await?;
        Ok(moderation)
    }

    /// Counts violations, bans and limiter refusals in `metrics`.
    pub fn observed_by(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Bans in force now, from the in-memory list.
    pub fn active_ban_count(&self) -> usize {
        self.bans.active_count(self.clock.now_ms())
    }

    /// The client IP of a request (see `client_ip`).
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        client_ip::resolve(
            peer,
            forwarded_for,
            self.config.trust_proxy,
            &self.config.trusted_proxies,
        )
    }

    /// `Err(Banned)` when the IP, or the user if given, is banned. Memory only.
    pub fn check(&self, ip: IpAddr, user_id: Option<&str>) -> Result<()> {
        let now = self.clock.now_ms();
        let until = self
            .bans
            .ip_banned_until(ip, now)
            .max(user_id.and_then(|id| self.bans.user_banned_until(id, now)));
        match until {
            Some(until_ms) => Err(Error::Banned {
                until_ms,
                now_ms: now,
            }),
            None => Ok(()),
        }
    }

    /// Counts a request against a limiter. Past the limit: the violation is recorded (which
    /// may ban) and the answer is `RateLimited` with the limiter's message.
    pub async fn limit(&self, limiter: &Limiter, subject: Subject<'_>) -> Result<()> {
        self.limit_scoring(limiter, subject, subject).await
    }

    /// As `limit`, with the window counted for `counted` but a violation scored against
    /// `scored`: the 2FA code limiter counts per IP, yet its violations belong to the account
    /// whose codes are being guessed.
    pub async fn limit_scoring(
        &self,
        limiter: &Limiter,
        counted: Subject<'_>,
        scored: Subject<'_>,
    ) -> Result<()> {
        let key = format!(
            "{}:{}",
            limiter.name,
            counted.key(self.config.ipv6_prefix_length)
        );
        self.count_against(limiter, &key, scored).await
    }

    /// As `limit`, with the window counted per `scope` and subject: the provider's token
    /// endpoint counts per client and IP, so one noisy client does not lock out another.
    pub async fn limit_within(
        &self,
        limiter: &Limiter,
        scope: &str,
        subject: Subject<'_>,
    ) -> Result<()> {
        let key = format!(
            "{}:{}:{}",
            limiter.name,
            scope,
            subject.key(self.config.ipv6_prefix_length)
        );
        self.count_against(limiter, &key, subject).await
    }

    async fn count_against(&self, limiter: &Limiter, key: &str, scored: Subject<'_>) -> Result<()> {
        let count = match self
            .state
            .hit(key, limiter.settings.window_ms(), self.clock.now_ms())
            .await
        {
            Ok(count) => count,
            Err(e) => return self.degraded(e),
        };
        if count <= limiter.settings.max {
            return Ok(());
        }
        self.metrics.limiter_refusal(limiter.name);
        self.violation(scored, limiter.violation_type, limiter.score)
            .await?;
        Err(Error::RateLimited(limiter.message.clone()))
    }

    /// One more request in flight for a user; `false` past `CONCURRENT_MESSAGE_MAX` (the
    /// request is then not counted, and the violation is recorded). Pair with `leave`.
    pub async fn enter(&self, user_id: &str, ip: IpAddr) -> Result<bool> {
        let key = format!("in_flight:user:{user_id}");
        let now = self.clock.now_ms();
        let count = match self.state.enter(&key, IN_FLIGHT_TTL_MS, now).await {
            Ok(count) => count,
            Err(e) => return self.degraded(e).map(|()| true),
        };
        if count <= self.config.concurrent_message_max {
            return Ok(true);
        }
        if let Err(e) = self.state.leave(&key).await {
            self.degraded(e)?;
        }
        self.metrics.limiter_refusal("concurrent_message");
        let subject = Subject::User { id: user_id, ip };
        self.violation(subject, "concurrent", self.config.scores.concurrent)
            .await?;
        Ok(false)
    }

    pub async fn leave(&self, user_id: &str) -> Result<()> {
        match self.state.leave(&format!("in_flight:user:{user_id}")).await {
            Ok(()) => Ok(()),
            Err(e) => self.degraded(e),
        }
    }

    /// The state store failed (Redis unreachable). Bouncer fails open: the request goes on as
    /// if under the limit, so signing in keeps working; bans already made are still enforced
    /// (they live in the database and in memory). Each failure is counted; the log gets the
    /// 1st, 2nd, 4th, 8th... so an outage cannot flood it. Service recovers by itself when the
    /// store answers again.
    fn degraded(&self, e: Error) -> Result<()> {
        let n = self.state_errors.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::error!(error = %e, failures = n, "moderation state unavailable: limiters fail open");
        }
        Ok(())
    }

    /// How many calls to the state store failed since start.
    pub fn state_errors(&self) -> u64 {
        self.state_errors.load(Ordering::Relaxed)
    }

    /// Whether the state store answers.
    pub async fn state_reachable(&self) -> bool {
        self.state.ping().await
    }

    /// Adds `score` to the subject's counter for this violation type; bans when the counter
    /// crosses a multiple of `BAN_INTERVAL`. Returns whether a ban was made.
    pub async fn violation(
        &self,
        subject: Subject<'_>,
        violation_type: &'static str,
        score: i64,
    ) -> Result<bool> {
        // A score of 0 records nothing (LibreChat's prompt-usage limiter; an operator's choice).
        if score <= 0 {
            return Ok(false);
        }
        self.metrics.violation(violation_type);
        let subject_key = subject.key(self.config.ipv6_prefix_length);
        // `scores:`, not LibreChat-era `violations:`: a score is now a hash with the time of its
        // last violation, and an old plain counter under the old name is simply not read.
        let key = format!("scores:{violation_type}:{subject_key}");
        let (before, after) = match self
            .state
            .add_score(
                &key,
                score,
                self.config.violation_window_ms,
                self.clock.now_ms(),
            )
            .await
        {
            Ok(scores) => scores,
            Err(e) => return self.degraded(e).map(|()| false),
        };
        // Debug, not info: under attack there is one violation per refused request.
        tracing::debug!(subject = %subject_key, violation_type, score = after, "violation");
        if !self.config.ban_violations || !crosses_interval(before, after, self.config.ban_interval)
        {
            return Ok(false);
        }
        self.ban(subject, violation_type, after, self.config.ban_duration_ms)
            .await?;
        self.record_automatic_ban(subject, violation_type, after);
        Ok(true)
    }

    /// The audit event of a ban the scores made: no actor, Bouncer itself banned.
    fn record_automatic_ban(&self, subject: Subject<'_>, violation_type: &str, score: i64) {
        let (kind, user_id, ip) = match subject {
            Subject::User { id, ip } => ("user", Some(id), ip),
            Subject::Ip(ip) => ("ip", None, ip),
        };
        let net = ip_prefix::client_net(ip, self.config.ipv6_prefix_length);
        let mut event = Event::new(AuditKind::Banned)
            .detail("kind", kind)
            .detail("violation_type", violation_type)
            .detail("score", score)
            .detail("duration_ms", self.config.ban_duration_ms.max(0))
            .detail("ip_subject", ip_prefix::subject_text(net))
            .detail("automatic", true);
        event.ip = Some(ip);
        if let Some(id) = user_id {
            event = event.user(id);
        }
        self.audit.record(event);
    }

    /// Bans a subject: a user loses every session at once and is banned with the IP they came
    /// from; an IP is banned alone. An IPv6 IP is banned as its prefix (`IPV6_PREFIX_LENGTH`),
    /// stored in CIDR form. A duration of zero or less is LibreChat's "soft" ban:
    /// sessions end, nothing is recorded.
    pub async fn ban(
        &self,
        subject: Subject<'_>,
        violation_type: &str,
        score: i64,
        duration_ms: i64,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let (user_id, ip) = match subject {
            Subject::User { id, ip } => (Some(id), Some(ip)),
            Subject::Ip(ip) => (None, Some(ip)),
        };
        if let Some(id) = user_id {
            let revoked = self.sessions.revoke_all_for_user(id).await?;
            tracing::warn!(user_id = id, sessions = revoked, "ban: sessions revoked");
        }
        if duration_ms <= 0 {
            tracing::warn!(subject = %subject.key(self.config.ipv6_prefix_length), violation_type, score, "soft ban (BAN_DURATION <= 0)");
            return Ok(());
        }
        let mut targets: Vec<(BanKind, String)> = Vec::new();
        if let Some(id) = user_id {
            targets.push((BanKind::User, id.to_string()));
        }
        if let Some(ip) = ip.filter(|ip| !ip.is_unspecified()) {
            let net = ip_prefix::client_net(ip, self.config.ipv6_prefix_length);
            targets.push((BanKind::Ip, ip_prefix::subject_text(net)));
        }
        for (kind, target) in targets {
            let ban = Ban {
                kind: kind.as_str().to_string(),
                subject: target.clone(),
                user_id: user_id.map(str::to_string),
                violation_type: violation_type.to_string(),
                score,
                duration_ms,
                created_at: now,
                expires_at: now + duration_ms,
            };
            store::bans::upsert(&self.db, &ban).await?;
            self.bans.insert(kind, &target, ban.expires_at);
            self.metrics.ban_issued(kind.as_str());
            self.changes.announce();
            tracing::warn!(
                kind = kind.as_str(),
                subject = %target,
                user_id = user_id.unwrap_or(""),
                violation_type,
                score,
                duration_ms,
                "ban"
            );
        }
        Ok(())
    }

    /// Lifts the IP bans that cover `target` (an address, or every address of a network) or
    /// lie inside it: `2001:db8:1:2::5` lifts the ban of `2001:db8:1:2::/64` that holds it.
    /// Returns the subjects lifted, as stored; empty when none applied.
    pub async fn unban_ip(&self, target: IpNet) -> Result<Vec<String>> {
        let active = store::bans::active(&self.db, self.clock.now_ms()).await?;
        let mut lifted = Vec::new();
        for ban in active.iter().filter(|b| b.kind == BanKind::Ip.as_str()) {
            let Some(net) = ip_prefix::parse_subject(&ban.subject) else {
                continue;
            };
            let overlaps = net.contains(&target) || target.contains(&net);
            if overlaps && store::bans::delete(&self.db, BanKind::Ip.as_str(), &ban.subject).await?
            {
                tracing::warn!(kind = "ip", subject = %ban.subject, "unban");
                lifted.push(ban.subject.clone());
            }
        }
        if !lifted.is_empty() {
            self.changes.announce();
        }
        self.sync_bans().await?;
        Ok(lifted)
    }

    /// Lifts a ban by its exact subject. Returns false when there was none.
    pub async fn unban(&self, kind: BanKind, subject: &str) -> Result<bool> {
        let lifted = store::bans::delete(&self.db, kind.as_str(), subject).await?;
        if lifted {
            tracing::warn!(kind = kind.as_str(), subject, "unban");
            self.changes.announce();
        }
        self.sync_bans().await?;
        Ok(lifted)
    }

    /// Bans in force, soonest to end first.
    pub async fn active_bans(&self) -> Result<Vec<Ban>> {
        store::bans::active(&self.db, self.clock.now_ms()).await
    }

    /// Reloads the bans in force from the database, so bans and unbans made by other processes
    /// (the ban commands) apply here. Runs every half second.
    pub async fn sync_bans(&self) -> Result<()> {
        let active = store::bans::active(&self.db, self.clock.now_ms()).await?;
        self.bans.replace(&active);
        Ok(())
    }

    /// Removes expired bans and spent limiter windows.
    pub async fn purge_expired(&self) -> Result<u64> {
        let now = self.clock.now_ms();
        self.state
            .purge(now, self.config.violation_window_ms)
            .await?;
        store::bans::delete_expired(&self.db, now).await
    }
}
