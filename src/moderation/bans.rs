//! Bans in memory, for checks without a database round trip, and LibreChat's ban arithmetic.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;

use crate::store::bans::Ban;

/// LibreChat's rule (spec §5.2): a ban fires each time a per-type score crosses a multiple of
/// the interval, so 19→20 bans, 0→19 does not, 0→20 does, and a decrease never does.
pub fn crosses_interval(before: i64, after: i64, interval: i64) -> bool {
    interval > 0 && after > before && before.div_euclid(interval) < after.div_euclid(interval)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanKind {
    User,
    Ip,
}

impl BanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BanKind::User => "user",
            BanKind::Ip => "ip",
        }
    }
}

/// Active bans → their end (ms). Two maps, so a check allocates nothing.
#[derive(Default)]
pub struct BanList {
    users: RwLock<HashMap<String, i64>>,
    ips: RwLock<HashMap<IpAddr, i64>>,
}

impl BanList {
    pub fn is_user_banned(&self, user_id: &str, now_ms: i64) -> bool {
        self.users
            .read()
            .map(|m| m.get(user_id).is_some_and(|until| *until > now_ms))
            .unwrap_or(true)
    }

    pub fn is_ip_banned(&self, ip: IpAddr, now_ms: i64) -> bool {
        self.ips
            .read()
            .map(|m| m.get(&ip).is_some_and(|until| *until > now_ms))
            .unwrap_or(true)
    }

    pub fn insert(&self, kind: BanKind, subject: &str, until_ms: i64) {
        match kind {
            BanKind::User => {
                if let Ok(mut m) = self.users.write() {
                    m.insert(subject.to_string(), until_ms);
                }
            }
            BanKind::Ip => {
                if let (Ok(ip), Ok(mut m)) = (subject.parse::<IpAddr>(), self.ips.write()) {
                    m.insert(ip, until_ms);
                }
            }
        }
    }

    /// Replaces the whole list with the bans the database holds (so lifted bans disappear).
    pub fn replace(&self, bans: &[Ban]) {
        let mut users = HashMap::new();
        let mut ips = HashMap::new();
        for ban in bans {
            if ban.kind == BanKind::User.as_str() {
                users.insert(ban.subject.clone(), ban.expires_at);
            } else if let Ok(ip) = ban.subject.parse::<IpAddr>() {
                ips.insert(ip, ban.expires_at);
            }
        }
        if let Ok(mut m) = self.users.write() {
            *m = users;
        }
        if let Ok(mut m) = self.ips.write() {
            *m = ips;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::crosses_interval;

    #[test]
    fn librechat_interval_arithmetic() {
        assert!(crosses_interval(19, 20, 20), "19 → 20 bans");
        assert!(!crosses_interval(0, 19, 20), "0 → 19 does not");
        assert!(crosses_interval(0, 20, 20), "a single score-20 hit bans");
        assert!(!crosses_interval(20, 21, 20), "no second ban until 40");
        assert!(crosses_interval(39, 41, 20));
        assert!(!crosses_interval(25, 19, 20), "a decrease never bans");
        assert!(!crosses_interval(20, 20, 20), "a zero score never bans");
        assert!(crosses_interval(2, 3, 3));
    }
}
