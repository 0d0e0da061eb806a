//! Session ids revoked before their time, held in memory so that checking an access token
//! costs a hash-map lookup instead of a database round trip.

use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Default)]
pub struct RevokedSessions {
    /// session id → until when (ms) an access token of that session could still be alive.
    until: RwLock<HashMap<String, i64>>,
}

impl RevokedSessions {
    pub fn is_revoked(&self, session_id: &str) -> bool {
        self.until
            .read()
            .map(|m| m.contains_key(session_id))
            .unwrap_or(true)
    }

    pub fn insert(&self, session_id: String, until_ms: i64) {
        if let Ok(mut m) = self.until.write() {
            m.insert(session_id, until_ms);
        }
    }

    /// Forgets revocations whose access tokens have all expired.
    pub fn forget_expired(&self, now_ms: i64) {
        if let Ok(mut m) = self.until.write() {
            m.retain(|_, until| *until > now_ms);
        }
    }
}
