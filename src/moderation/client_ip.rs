//! The client's IP address. `X-Forwarded-For` is believed only from a trusted proxy, and only
//! for `TRUST_PROXY` hops counted from the right; `TRUST_PROXY=0` ignores it (LibreChat cannot
//! turn it off, so anyone could pick the IP its limiters and bans see).

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) become plain IPv4.
pub fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Parses one `X-Forwarded-For` entry: an address, possibly with a port or brackets.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()
        })
        .map(normalize)
}

/// Walks `X-Forwarded-For` from the right, one hop at a time, while the address in hand is a
/// trusted proxy and hops remain. `forwarded_for` holds the values of the request's
/// `X-Forwarded-For` headers in order (read by the translator; this knows no HTTP types).
pub fn resolve(
    peer: IpAddr,
    forwarded_for: &[&str],
    trust_proxy: u32,
    trusted: &[IpNet],
) -> IpAddr {
    let mut client = normalize(peer);
    if trust_proxy == 0 {
        return client;
    }
    let forwarded: Vec<&str> = forwarded_for.iter().flat_map(|v| v.split(',')).collect();
    let mut from_right = forwarded.iter().rev();
    for _ in 0..trust_proxy {
        if !trusted.iter().any(|net| net.contains(&client)) {
            break;
        }
        match from_right.next().and_then(|e| parse_entry(e)) {
            Some(ip) => client = ip,
            None => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::moderation::DEFAULT_TRUSTED_PROXIES;

    fn trusted() -> Vec<IpNet> {
        DEFAULT_TRUSTED_PROXIES
            .split(',')
            .map(|s| s.parse().unwrap())
            .collect()
    }

    fn xff(value: &str) -> Vec<&str> {
        vec![value]
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_trusted_hop_takes_the_rightmost_entry() {
        let h = xff("6.6.6.6, 203.0.113.7");
        assert_eq!(
            resolve(ip("127.0.0.1"), &h, 1, &trusted()),
            ip("203.0.113.7")
        );
        assert_eq!(
            resolve(ip("10.0.0.5"), &h, 1, &trusted()),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn untrusted_peers_and_trust_zero_ignore_the_header() {
        let h = xff("203.0.113.7");
        assert_eq!(
            resolve(ip("198.51.100.1"), &h, 1, &trusted()),
            ip("198.51.100.1")
        );
        assert_eq!(resolve(ip("127.0.0.1"), &h, 0, &trusted()), ip("127.0.0.1"));
    }

    #[test]
    fn more_hops_only_through_trusted_proxies() {
        let h = xff("203.0.113.7, 10.0.0.2");
        assert_eq!(
            resolve(ip("127.0.0.1"), &h, 2, &trusted()),
            ip("203.0.113.7")
        );
        // A client-written entry past an untrusted address is never reached.
        let spoof = xff("1.1.1.1, 203.0.113.7");
        assert_eq!(
            resolve(ip("127.0.0.1"), &spoof, 2, &trusted()),
            ip("203.0.113.7")
        );
        assert_eq!(
            resolve(ip("127.0.0.1"), &[], 1, &trusted()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn normalises_mapped_addresses_ports_and_brackets() {
        assert_eq!(normalize(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(
            resolve(
                ip("::ffff:127.0.0.1"),
                &xff("192.0.2.9:4711"),
                1,
                &trusted()
            ),
            ip("192.0.2.9")
        );
        assert_eq!(
            resolve(ip("::1"), &xff("[2001:db8::5]:443"), 1, &trusted()),
            ip("2001:db8::5")
        );
        assert_eq!(
            resolve(ip("::1"), &xff("2001:db8::5"), 1, &trusted()),
            ip("2001:db8::5")
        );
    }
}
