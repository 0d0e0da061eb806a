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

fn key(kind: BanKind, subject: &str) -> String {
    format!("{}:{subject}", kind.as_str())
}

/// Active bans: `kind:subject` → end (ms).
#[derive(Default)]
pub struct BanList {
    until: RwLock<HashMap<String, i64>>,
}

impl BanList {
    pub fn is_banned(&self, kind: BanKind, subject: &str, now_ms: i64) -> bool {
        self.until
            .read()
            .map(|m| {
                m.get(&key(kind, subject))
                    .is_some_and(|until| *until > now_ms)
            })
            .unwrap_or(true)
    }

    pub fn is_ip_banned(&self, ip: IpAddr, now_ms: i64) -> bool {
        self.is_banned(BanKind::Ip, &ip.to_string(), now_ms)
    }

    pub fn insert(&self, kind: BanKind, subject: &str, until_ms: i64) {
        if let Ok(mut m) = self.until.write() {
            m.insert(key(kind, subject), until_ms);
        }
    }

    /// Replaces the whole list with the bans the database holds (so lifted bans disappear).
    pub fn replace(&self, bans: &[Ban]) {
        let fresh: HashMap<String, i64> = bans
            .iter()
            .map(|b| (format!("{}:{}", b.kind, b.subject), b.expires_at))
            .collect();
        if let Ok(mut m) = self.until.write() {
            *m = fresh;
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
