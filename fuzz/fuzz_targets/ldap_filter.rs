//! LDAP search filters (`LDAP_SEARCH_FILTER`): for any login, the filter Bouncer sends parses,
//! keeps the configured shape (an OR of two equality matches) and compares exactly the login:
//! no `*`, `(` or `)` in a login can add a wildcard or a clause (RFC 4515 escaping).
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use bouncer::config::ldap::LdapConfig;
use bouncer::config::Vars;
use ldap3::asn1::Tag;
use libfuzzer_sys::fuzz_target;

fn config() -> &'static LdapConfig {
    static CONFIG: OnceLock<LdapConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let vars: HashMap<String, String> = [
            ("LDAP_URL", "ldaps://ldap.example.com"),
            ("LDAP_USER_SEARCH_BASE", "dc=example,dc=com"),
            (
                "LDAP_SEARCH_FILTER",
                "(|(uid={{username}})(sAMAccountName={{username}}))",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        LdapConfig::from_vars(Vars::new(&vars)).unwrap().unwrap()
    })
}

const OR: u64 = 1;
const EQUALITY: u64 = 3;

fuzz_target!(|data: &[u8]| {
    let Ok(login) = std::str::from_utf8(data) else {
        return;
    };
    let filter = config().filter_for(login);
    let parsed = ldap3::parse_filter(&filter).unwrap_or_else(|_| panic!("{login:?} -> {filter}"));
    let Tag::Sequence(or) = parsed else {
        panic!("{login:?} -> {filter}: not an OR");
    };
    assert_eq!((or.id, or.inner.len()), (OR, 2), "{login:?} -> {filter}");
    for clause in or.inner {
        let Tag::Sequence(equality) = clause else {
            panic!("{login:?} -> {filter}: a clause is not an equality match");
        };
        assert_eq!(equality.id, EQUALITY, "{login:?} -> {filter}");
        let Some(Tag::OctetString(value)) = equality.inner.get(1) else {
            panic!("{login:?} -> {filter}: no value");
        };
        assert_eq!(value.inner, login.as_bytes(), "{login:?} -> {filter}");
    }
});
