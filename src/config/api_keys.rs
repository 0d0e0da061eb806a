//! API keys for programmatic clients of the gateway: how many a user may hold, and the
//! per-key request limiter (beside the gateway's per-user limiters, which count keys too).

use super::moderation::{limiter, limits, score, LimiterSettings};
use super::values::{variables, Vars};
use super::ConfigError;

variables! {
    API_KEYS_MAX_PER_USER: "`25`", "Live (unrevoked, unexpired) API keys a user may hold at once.";
    API_KEY_LIMIT_MAX: "`600`", "Gateway requests per API key per window.";
    API_KEY_LIMIT_WINDOW: "`1`", "API-key request window (minutes).";
    API_KEY_VIOLATION_SCORE: "`1`", "Score of one API-key limiter violation (against the key's user).";
}

#[derive(Debug, Clone)]
pub struct ApiKeysConfig {
    pub max_per_user: u64,
    /// Every gateway request made with a key counts in that key's window.
    pub limit: LimiterSettings,
    pub score: i64,
}

impl ApiKeysConfig {
    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            max_per_user: vars.number(&API_KEYS_MAX_PER_USER, 25, 1..=10_000)?,
            limit: limiter(
                vars,
                &API_KEY_LIMIT_MAX,
                &API_KEY_LIMIT_WINDOW,
                &limits(600, 1),
            )?,
            score: score(vars, &API_KEY_VIOLATION_SCORE, 1)?,
        })
    }
}
