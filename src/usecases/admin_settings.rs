//! The settings at a glance, for the operator (read-only): which features are on, which
//! identity providers are configured (names only, never a secret), and the moderation
//! thresholds in force.

use serde::Serialize;

use super::admin::Actor;
use crate::app::AppContext;
use crate::error::Result;
use crate::moderation::Limiter;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    pub email_login: bool,
    pub registration: bool,
    pub social_login: bool,
    pub social_registration: bool,
    pub password_reset: bool,
    /// New accounts must verify their email before signing in.
    pub email_verification: bool,
    pub require_2fa: bool,
    /// `true`, `false`, or `"whenAnyAdminHas2fa"` (unset).
    pub require_2fa_for_admins: serde_json::Value,
    pub mail: bool,
    /// The chat gateway's upstream host (no path, no credentials); `None` without a gateway.
    pub gateway_upstream: Option<String>,
    /// `/api/auth/verify`, for a reverse proxy's forward-auth: always served.
    pub forward_auth: bool,
    /// The OpenID provider: on once a client is registered.
    pub provider: bool,
    pub provider_issuer: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimiterView {
    pub name: &'static str,
    pub max: u64,
    pub window_ms: i64,
    pub violation_type: &'static str,
    pub score: i64,
}

impl From<&Limiter> for LimiterView {
    fn from(l: &Limiter) -> Self {
        Self {
            name: l.name,
            max: l.settings.max,
            window_ms: l.settings.window_ms(),
            violation_type: l.violation_type,
            score: l.score,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModerationView {
    pub bans: bool,
    pub ban_interval: i64,
    pub ban_duration_ms: i64,
    pub violation_score_window_ms: i64,
    pub concurrent_message_max: Option<u64>,
    pub ipv6_prefix_length: u8,
    pub limiters: Vec<LimiterView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub features: Features,
    /// `openid`, `saml`, `ldap`, and the social providers' names.
    pub identity_providers: Vec<String>,
    pub moderation: ModerationView,
}

pub async fn settings(ctx: &AppContext, _by: &Actor) -> Result<SettingsView> {
    let c = &ctx.config;
    let f = &c.features;
    let mut identity_providers = Vec::new();
    if ctx.openid.is_some() {
        identity_providers.push("openid".to_string());
    }
    if ctx.saml.is_some() {
        identity_providers.push("saml".to_string());
    }
    if ctx.directory.is_some() {
        identity_providers.push("ldap".to_string());
    }
    let mut social: Vec<String> = ctx.social.keys().map(|k| k.name().to_string()).collect();
    social.sort();
    identity_providers.extend(social);
    let m = &c.moderation;
    let l = &ctx.moderation.limiters;
    let mut limiters: Vec<LimiterView> = [
        &l.login,
        &l.register,
        &l.reset_password,
        &l.reset_password_submission,
        &l.verify_email,
        &l.verify_email_submission,
        &l.two_factor_temp,
        &l.oidc_token,
    ]
    .into_iter()
    .map(LimiterView::from)
    .collect();
    if m.limit_message_ip {
        limiters.push((&l.message_ip).into());
    }
    if m.limit_message_user {
        limiters.push((&l.message_user).into());
    }
    for route in &l.routes {
        limiters.extend(route.ip.iter().map(LimiterView::from));
        limiters.extend(route.user.iter().map(LimiterView::from));
    }
    use crate::config::admin::AdminTwoFactor;
    Ok(SettingsView {
        features: Features {
            email_login: f.allow_email_login,
            registration: f.allow_registration,
            social_login: f.allow_social_login,
            social_registration: f.allow_social_registration,
            password_reset: f.allow_password_reset,
            email_verification: ctx.mail.configured() && !f.allow_unverified_email_login,
            require_2fa: c.sessions.require_2fa,
            require_2fa_for_admins: match c.admin.two_factor {
                AdminTwoFactor::Required => true.into(),
                AdminTwoFactor::NotRequired => false.into(),
                AdminTwoFactor::OnceAnyAdminHasIt => "whenAnyAdminHas2fa".into(),
            },
            mail: ctx.mail.configured(),
            gateway_upstream: c
                .gateway
                .upstream
                .as_ref()
                .map(|u| u.authority.host().to_string()),
            forward_auth: true,
            provider: ctx.provider.clients.any().await?,
            provider_issuer: ctx.provider.config.issuer.clone(),
        },
        identity_providers,
        moderation: ModerationView {
            bans: m.ban_violations,
            ban_interval: m.ban_interval,
            ban_duration_ms: m.ban_duration_ms,
            violation_score_window_ms: m.violation_window_ms,
            concurrent_message_max: m
                .limit_concurrent_messages
                .then_some(m.concurrent_message_max),
            ipv6_prefix_length: m.ipv6_prefix_length,
            limiters,
        },
    })
}
