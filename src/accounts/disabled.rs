//! The users an operator has disabled, held in memory so that every token-authenticated request
//! (the API, the gateway, forward-auth, API keys) refuses them without a database round trip.
//! Loaded at start and re-read with the bans (the change feed's nudge and the periodic sync),
//! so a user disabled on another instance is refused here within that bound.

use std::collections::HashSet;
use std::sync::RwLock;

#[derive(Default)]
pub struct DisabledUsers {
    ids: RwLock<HashSet<String>>,
}

impl DisabledUsers {
    pub fn contains(&self, user_id: &str) -> bool {
        self.ids.read().is_ok_and(|ids| ids.contains(user_id))
    }

    pub fn insert(&self, user_id: &str) {
        if let Ok(mut ids) = self.ids.write() {
            ids.insert(user_id.to_string());
        }
    }

    pub fn remove(&self, user_id: &str) {
        if let Ok(mut ids) = self.ids.write() {
            ids.remove(user_id);
        }
    }

    /// Replaces the whole set by what the database holds.
    pub fn replace(&self, ids: Vec<String>) {
        if let Ok(mut held) = self.ids.write() {
            *held = ids.into_iter().collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_forgets_users_enabled_elsewhere() {
        let set = DisabledUsers::default();
        set.insert("a");
        set.insert("b");
        set.replace(vec!["b".into(), "c".into()]);
        assert!(!set.contains("a"));
        assert!(set.contains("b") && set.contains("c"));
        set.remove("c");
        assert!(!set.contains("c"));
    }
}
