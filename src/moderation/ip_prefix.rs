//! Which network a client IP's limits and bans apply to. An IPv4 client is one address; an
//! IPv6 client is the prefix holding its address (`IPV6_PREFIX_LENGTH`, /64 by default),
//! because one subscriber or one server gets a whole /64 and can rotate through its addresses
//! at will: keyed per address, each would get a fresh login budget and dodge every ban.

use std::net::IpAddr;

use ipnet::IpNet;

/// The network `ip` belongs to for moderation: the address itself (IPv4, or IPv6 at /128) or
/// its IPv6 prefix of `ipv6_prefix_length` bits. Lengths over 128 count as 128.
pub fn client_net(ip: IpAddr, ipv6_prefix_length: u8) -> IpNet {
    match ip {
        IpAddr::V4(_) => IpNet::from(ip),
        IpAddr::V6(_) => masked(ip, ipv6_prefix_length.min(128)),
    }
}

/// `ip` with every bit past `len` cleared, as a network; allocation-free. `len` must be at
/// most the family's width (the callers take it from a network they already hold).
pub fn masked(ip: IpAddr, len: u8) -> IpNet {
    IpNet::new(ip, len)
        .map(|net| net.trunc())
        .unwrap_or_else(|_| IpNet::from(ip))
}

/// The text of a moderation subject: the bare address for a single address (as Bouncer always
/// stored it, so IPv4 keys and bans, and IPv6 ones at /128, read as before), CIDR otherwise
/// (`2001:db8:1:2::/64`).
pub fn subject_text(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// Reads a stored ban subject or an operator's argument: an address (one address: /32 or
/// /128) or a network in CIDR form, host bits cleared. IPv4-mapped IPv6 addresses become IPv4.
pub fn parse_subject(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(IpNet::from(super::client_ip::normalize(ip)));
    }
    text.parse::<IpNet>().ok().map(|net| net.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_is_masked_to_its_prefix_and_ipv4_stays_one_address() {
        let a = client_net(ip("2001:db8:1:2::5"), 64);
        let b = client_net(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), 64);
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_ne!(a, client_net(ip("2001:db8:1:3::5"), 64));
        assert_eq!(
            client_net(ip("2001:db8:1:2::5"), 48).to_string(),
            "2001:db8:1::/48"
        );
        assert_eq!(
            client_net(ip("2001:db8:1:2::5"), 128).to_string(),
            "2001:db8:1:2::5/128"
        );
        assert_eq!(
            client_net(ip("2001:db8:1:2::5"), 200),
            client_net(ip("2001:db8:1:2::5"), 128)
        );
        assert_eq!(
            client_net(ip("192.0.2.77"), 64).to_string(),
            "192.0.2.77/32"
        );
    }

    #[test]
    fn subjects_are_bare_addresses_for_one_address_and_cidr_for_a_prefix() {
        assert_eq!(subject_text(client_net(ip("192.0.2.77"), 64)), "192.0.2.77");
        assert_eq!(
            subject_text(client_net(ip("2001:db8::5"), 128)),
            "2001:db8::5"
        );
        assert_eq!(
            subject_text(client_net(ip("2001:db8:1:2::5"), 64)),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn parses_addresses_networks_and_refuses_the_rest() {
        assert_eq!(
            parse_subject("2001:db8:1:2::/64"),
            Some(client_net(ip("2001:db8:1:2::"), 64))
        );
        // Host bits in a CIDR argument are cleared, as the network is what is meant.
        assert_eq!(
            parse_subject(" 2001:db8:1:2::5/64 "),
            Some(client_net(ip("2001:db8:1:2::"), 64))
        );
        assert_eq!(
            parse_subject("2001:db8::5").map(|n| n.prefix_len()),
            Some(128)
        );
        assert_eq!(
            parse_subject("::ffff:192.0.2.1"),
            Some(client_net(ip("192.0.2.1"), 64))
        );
        for bad in ["", "banana", "2001:db8::/129", "10.0.0.0/33", "1.2.3"] {
            assert_eq!(parse_subject(bad), None, "{bad:?}");
        }
    }
}
