//! Bans in memory, for checks without a database round trip, and LibreChat's ban arithmetic.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;

use ipnet::IpNet;

use super::client_ip::normalize;
use super::ip_prefix::{masked, parse_subject};
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

/// Active bans → their end (ms). Users by id; IPs by network, so that an IPv6 ban covers its
/// whole prefix. A check allocates nothing.
#[derive(Default)]
pub struct BanList {
    users: RwLock<HashMap<String, i64>>,
    ips: RwLock<IpBans>,
}

/// IP bans by network (host bits cleared), with the prefix lengths in use per family. A check
/// masks the address at each length in use and looks the network up: in practice one or two
/// lengths (`IPV6_PREFIX_LENGTH`, and /128 for rows stored before IPv6 prefixes, or after a
/// change of the setting), so it stays a few hash lookups however many bans there are.
#[derive(Default)]
struct IpBans {
    nets: HashMap<IpNet, i64>,
    v4_lengths: Vec<u8>,
    v6_lengths: Vec<u8>,
}

impl IpBans {
    fn insert(&mut self, net: IpNet, until_ms: i64) {
        let lengths = match net {
            IpNet::V4(_) => &mut self.v4_lengths,
            IpNet::V6(_) => &mut self.v6_lengths,
        };
        if !lengths.contains(&net.prefix_len()) {
            lengths.push(net.prefix_len());
        }
        self.nets.insert(net, until_ms);
    }

    fn is_banned(&self, ip: IpAddr, now_ms: i64) -> bool {
        self.banned_until(ip, now_ms).is_some()
    }

    /// The end of the longest ban in force that covers `ip`.
    fn banned_until(&self, ip: IpAddr, now_ms: i64) -> Option<i64> {
        let lengths = match ip {
            IpAddr::V4(_) => &self.v4_lengths,
            IpAddr::V6(_) => &self.v6_lengths,
        };
        lengths
            .iter()
            .filter_map(|len| self.nets.get(&masked(ip, *len)).copied())
            .filter(|until| *until > now_ms)
            .max()
    }
}

impl BanList {
    /// When the ban in force on the user ends (a poisoned lock reads as banned for an hour:
    /// failing closed).
    pub fn user_banned_until(&self, user_id: &str, now_ms: i64) -> Option<i64> {
        self.users
            .read()
            .map(|m| m.get(user_id).copied().filter(|until| *until > now_ms))
            .unwrap_or(Some(now_ms + 3_600_000))
    }

    /// When the longest ban in force that covers `ip` ends.
    pub fn ip_banned_until(&self, ip: IpAddr, now_ms: i64) -> Option<i64> {
        let ip = normalize(ip);
        self.ips
            .read()
            .map(|bans| bans.banned_until(ip, now_ms))
            .unwrap_or(Some(now_ms + 3_600_000))
    }

    pub fn is_user_banned(&self, user_id: &str, now_ms: i64) -> bool {
        self.users
            .read()
            .map(|m| m.get(user_id).is_some_and(|until| *until > now_ms))
            .unwrap_or(true)
    }

    /// Whether a ban in force covers `ip`: a ban of the address, or of a network holding it.
    pub fn is_ip_banned(&self, ip: IpAddr, now_ms: i64) -> bool {
        let ip = normalize(ip);
        self.ips
            .read()
            .map(|bans| bans.is_banned(ip, now_ms))
            .unwrap_or(true)
    }

    /// Records a ban. An IP subject is an address or a network in CIDR form (`parse_subject`);
    /// anything else is no IP and is skipped.
    pub fn insert(&self, kind: BanKind, subject: &str, until_ms: i64) {
        match kind {
            BanKind::User => {
                if let Ok(mut m) = self.users.write() {
                    m.insert(subject.to_string(), until_ms);
                }
            }
            BanKind::Ip => {
                if let (Some(net), Ok(mut bans)) = (parse_subject(subject), self.ips.write()) {
                    bans.insert(net, until_ms);
                }
            }
        }
    }

    /// How many bans are in force at `now_ms` (for the metrics, at scrape time: a pass over
    /// the in-memory list, no database round trip).
    pub fn active_count(&self, now_ms: i64) -> usize {
        let users = self
            .users
            .read()
            .map(|m| m.values().filter(|until| **until > now_ms).count())
            .unwrap_or(0);
        let ips = self
            .ips
            .read()
            .map(|bans| bans.nets.values().filter(|until| **until > now_ms).count())
            .unwrap_or(0);
        users + ips
    }

    /// Replaces the whole list with the bans the database holds (so lifted bans disappear).
    /// A row holding a single IPv6 address (stored before IPv6 prefixes) keeps banning that
    /// address alone, as a /128: it was made for one address, and it ends with its duration.
    pub fn replace(&self, bans: &[Ban]) {
        let mut users = HashMap::new();
        let mut ips = IpBans::default();
        for ban in bans {
            if ban.kind == BanKind::User.as_str() {
                users.insert(ban.subject.clone(), ban.expires_at);
            } else if let Some(net) = parse_subject(&ban.subject) {
                ips.insert(net, ban.expires_at);
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
    use super::*;

    fn ban(subject: &str, expires_at: i64) -> Ban {
        Ban {
            kind: "ip".into(),
            subject: subject.into(),
            user_id: None,
            violation_type: "logins".into(),
            score: 20,
            duration_ms: 1000,
            created_at: 0,
            expires_at,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_ipv6_prefix_ban_covers_its_prefix_and_not_the_neighbour() {
        let list = BanList::default();
        list.insert(BanKind::Ip, "2001:db8:1:2::/64", 1000);
        assert!(list.is_ip_banned(ip("2001:db8:1:2::5"), 0));
        assert!(list.is_ip_banned(ip("2001:db8:1:2:abcd:ef01:2345:6789"), 0));
        assert!(!list.is_ip_banned(ip("2001:db8:1:3::5"), 0));
        assert!(!list.is_ip_banned(ip("2001:db8:1:2::5"), 1000), "expired");
        assert!(!list.is_ip_banned(ip("192.0.2.1"), 0));
    }

    #[test]
    fn ipv4_bans_stay_per_address_and_mapped_addresses_match_them() {
        let list = BanList::default();
        list.insert(BanKind::Ip, "192.0.2.7", 1000);
        assert!(list.is_ip_banned(ip("192.0.2.7"), 0));
        assert!(list.is_ip_banned(ip("::ffff:192.0.2.7"), 0));
        assert!(!list.is_ip_banned(ip("192.0.2.8"), 0));
    }

    #[test]
    fn old_single_address_ipv6_rows_ban_that_address_as_a_128() {
        let list = BanList::default();
        list.replace(&[ban("2001:db8::5", 1000), ban("2001:db8:9:9::/64", 1000)]);
        assert!(list.is_ip_banned(ip("2001:db8::5"), 0));
        assert!(!list.is_ip_banned(ip("2001:db8::6"), 0));
        assert!(list.is_ip_banned(ip("2001:db8:9:9::1"), 0));
        // A row that names no IP is skipped, the others still apply.
        list.replace(&[ban("not an ip", 1000), ban("2001:db8::5", 1000)]);
        assert!(list.is_ip_banned(ip("2001:db8::5"), 0));
        // Replacing drops what the database no longer holds.
        list.replace(&[]);
        assert!(!list.is_ip_banned(ip("2001:db8::5"), 0));
    }

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
