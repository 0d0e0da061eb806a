//! The audit log: how long its events are kept.

use super::values::{variables, Vars};
use super::ConfigError;

variables! {
    AUDIT_RETENTION_DAYS: "`90`", "Days audit events are kept before they are purged; `0` keeps them forever.";
}

#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// `AUDIT_RETENTION_DAYS`; 0: never purged.
    pub retention_days: u32,
}

impl AuditConfig {
    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            // Bounded so that the cutoff (days in ms) cannot overflow; 100 years is "forever"
            // to anyone who wants it, and 0 says so directly.
            retention_days: vars.number(&AUDIT_RETENTION_DAYS, 90, 0..=36_500)?,
        })
    }
}
