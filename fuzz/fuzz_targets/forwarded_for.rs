//! The client address behind trusted proxies: for any peer, hop count and `X-Forwarded-For`
//! headers, `client_ip::resolve` never panics and answers either the peer itself or an address
//! written in one of the `TRUST_PROXY` rightmost entries, and only when the peer is a trusted
//! proxy.
//!
//! Input: the peer address on the first line, the hop count on the second, then one
//! `X-Forwarded-For` header value per line (a first or second line that does not parse picks a
//! peer or a count from a small set, so no input is wasted).
#![no_main]

use std::net::{IpAddr, SocketAddr};

use bouncer::config::moderation::DEFAULT_TRUSTED_PROXIES;
use bouncer::moderation::client_ip::{normalize, resolve};
use http::{HeaderMap, HeaderValue};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;

const PEERS: [&str; 6] = [
    "127.0.0.1",
    "::1",
    "10.1.2.3",
    "::ffff:192.168.0.7",
    "203.0.113.9",
    "2001:db8::1",
];

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let peer: IpAddr = std::str::from_utf8(first)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| PEERS[first.len() % PEERS.len()].parse().unwrap());
    let second = lines.next().unwrap_or_default();
    let trust_proxy: u32 = std::str::from_utf8(second)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(second.len() as u32 % 4);
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append("x-forwarded-for", value);
        }
    }
    let trusted: Vec<IpNet> = DEFAULT_TRUSTED_PROXIES
        .split(',')
        .map(|net| net.parse().unwrap())
        .collect();

    // As the translator reads them: the printable values, in order.
    let values: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let client = resolve(peer, &values, trust_proxy, &trusted);

    assert_eq!(normalize(client), client, "{client} is not in normal form");
    let peer = normalize(peer);
    if client == peer {
        return;
    }
    assert!(trust_proxy > 0, "TRUST_PROXY=0 believed the header");
    assert!(
        trusted.iter().any(|net| net.contains(&peer)),
        "an untrusted peer {peer} was believed"
    );
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let believable = entries.iter().rev().take(trust_proxy as usize);
    assert!(
        believable.clone().any(|e| written_as(e).contains(&client)),
        "{client} is in none of the {trust_proxy} rightmost entries of {entries:?}"
    );
});

/// Every address an entry can be read as: bare, with a port, or in brackets.
fn written_as(entry: &str) -> Vec<IpAddr> {
    let entry = entry.trim();
    let bare = entry.trim_start_matches('[').trim_end_matches(']');
    [
        entry.parse::<IpAddr>().ok(),
        entry.parse::<SocketAddr>().ok().map(|s| s.ip()),
        bare.parse::<IpAddr>().ok(),
    ]
    .into_iter()
    .flatten()
    .map(normalize)
    .collect()
}
