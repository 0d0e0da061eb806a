//! LibreChat variables whose feature Bouncer does not implement and whose absence would change
//! who can sign in or how they are moderated: set, they stop the start with a message naming
//! them, unless the operator acknowledges each (`BOUNCER_IGNORE=NAME,…`). Configuration never
//! silently falls back. Harmless LibreChat variables (chat settings, `MONGO_URI`) are not here
//! and stay silent.

use std::collections::HashMap;

use super::values::{parse_bool, variables, Vars};
use super::ConfigError;

variables! {
    BOUNCER_IGNORE: "unset", "Comma-separated LibreChat variables Bouncer does not implement, acknowledged so that Bouncer starts anyway.";
}

/// When a variable counts as asking for its feature.
#[derive(Clone, Copy)]
enum Asks {
    /// LibreChat's `isEnabled`: the value `true`.
    WhenTrue,
    /// Any non-blank value.
    WhenSet,
}

struct Unsupported {
    name: &'static str,
    asks: Asks,
    /// What the operator loses, in a few words.
    consequence: &'static str,
}

const UNSUPPORTED: &[Unsupported] = &[
    Unsupported {
        name: "OPENID_REUSE_TOKENS",
        asks: Asks::WhenTrue,
        consequence: "the provider's tokens would not be the session: users get Bouncer's own \
                      tokens and refresh sessions",
    },
    Unsupported {
        name: "OPENID_ON_BEHALF_FLOW_FOR_USERINFO_REQUIRED",
        asks: Asks::WhenTrue,
        consequence: "no Entra on-behalf-of exchange before userinfo",
    },
    Unsupported {
        name: "OPENID_ON_BEHALF_FLOW_USERINFO_SCOPE",
        asks: Asks::WhenSet,
        consequence: "no Entra on-behalf-of exchange before userinfo",
    },
    Unsupported {
        name: "OPENID_ROLE_SYNC_ENABLED",
        asks: Asks::WhenTrue,
        consequence: "provider roles would not be mapped to LibreChat roles",
    },
    Unsupported {
        name: "USE_REDIS_CLUSTER",
        asks: Asks::WhenTrue,
        consequence: "Bouncer speaks to one Redis node, not a cluster: the shared limiters and \
                      violation scores would not work",
    },
    Unsupported {
        name: "REDIS_CA",
        asks: Asks::WhenSet,
        consequence: "Redis's certificate is checked against the system's roots only, so a \
                      private CA would leave the shared limiters unreachable",
    },
];

/// Every unsupported variable set without being acknowledged, in one error; and a warning for
/// each name in `BOUNCER_IGNORE` that needs no acknowledgement.
pub fn check(vars: &HashMap<String, String>) -> Result<Vec<String>, ConfigError> {
    let acknowledged: Vec<&str> = Vars::new(vars)
        .get(&BOUNCER_IGNORE)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let refused: Vec<String> = UNSUPPORTED
        .iter()
        .filter(|u| {
            let value = vars.get(u.name).map(String::as_str);
            match u.asks {
                Asks::WhenTrue => parse_bool(value, false),
                Asks::WhenSet => value.is_some_and(|v| !v.trim().is_empty()),
            }
        })
        .filter(|u| !acknowledged.contains(&u.name))
        .map(|u| format!("{} ({})", u.name, u.consequence))
        .collect();
    if !refused.is_empty() {
        return Err(ConfigError::Other(format!(
            "LibreChat settings Bouncer does not implement are set: {}. Unset them, or \
             acknowledge them with BOUNCER_IGNORE=<names, comma-separated> to start without \
             them",
            refused.join("; ")
        )));
    }
    Ok(acknowledged
        .into_iter()
        .filter(|name| !UNSUPPORTED.iter().any(|u| u.name == *name))
        .map(|name| {
            format!(
                "BOUNCER_IGNORE names {name}, which is not a setting Bouncer refuses; nothing to \
                 acknowledge"
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_unsupported_setting_stops_the_start_naming_it() {
        let e = check(&vars(&[
            ("OPENID_REUSE_TOKENS", "true"),
            ("USE_REDIS_CLUSTER", "TRUE"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("OPENID_REUSE_TOKENS (") && e.contains("USE_REDIS_CLUSTER ("),
            "{e}"
        );
        assert!(e.contains("BOUNCER_IGNORE"), "{e}");
    }

    #[test]
    fn off_values_harmless_variables_and_acknowledged_ones_pass() {
        let ok = vars(&[
            ("OPENID_REUSE_TOKENS", "false"),
            ("REDIS_CA", " "),
            ("MONGO_URI", "mongodb://x"),
            ("USE_REDIS_CLUSTER", "true"),
            ("BOUNCER_IGNORE", "USE_REDIS_CLUSTER, MONGO_URI"),
        ]);
        let warnings = check(&ok).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("MONGO_URI"));
    }
}
