//! The variables Bouncer reads, so that a misspelt one is noticed at start instead of being
//! silently ignored (a habit borrowed from lldap). The list is the union of the tables each
//! reader declares next to itself (`variables!`); the readers read only through them.

use super::values::Variable;

/// Every table, in the order of the documentation.
const TABLES: &[&[&Variable]] = &[
    super::VARIABLES,
    super::passwords::VARIABLES,
    super::server::VARIABLES,
    super::moderation::VARIABLES,
    super::route_limits::VARIABLES,
    super::admin::VARIABLES,
    super::api_keys::VARIABLES,
    super::mail::VARIABLES,
    super::openid::VARIABLES,
    super::social::VARIABLES,
    super::saml::VARIABLES,
    super::gateway::VARIABLES,
    super::content_moderation::VARIABLES,
    super::pages::VARIABLES,
    super::provider::VARIABLES,
    super::ldap::VARIABLES,
    super::audit::VARIABLES,
    super::passkeys::VARIABLES,
    super::metrics::VARIABLES,
    super::unsupported::VARIABLES,
];

/// Every variable Bouncer reads.
pub fn variables() -> impl Iterator<Item = &'static Variable> {
    TABLES.iter().flat_map(|table| table.iter().copied())
}

/// Whether `name` is in one of the tables.
pub fn is_known(name: &str) -> bool {
    variables().any(|v| v.name == name)
}

/// Names LibreChat reads that sit close to one of ours: legitimate in a shared `.env`, so no
/// typo warning for them.
const LIBRECHAT_NEIGHBOURS: &[&str] = &[
    "ALLOW_EMAIL_LOGIN_OVERRIDE",
    "ALLOW_SHARED_LINKS",
    "CREDS_IV",
];

/// One warning per variable whose name is within two edits of a Bouncer variable without
/// being one (e.g. `SESSION_EXPIRE`, `JWT_SECRETS`). Other unknown names are LibreChat's or the
/// system's and are left alone.
pub fn unknown_variable_warnings<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut warnings: Vec<String> = names
        .filter(|name| name.len() >= 5 && !is_known(name))
        .filter(|name| !LIBRECHAT_NEIGHBOURS.contains(name))
        .filter_map(|name| {
            variables()
                .map(|known| known.name)
                .filter(|known| known.len() >= 5)
                .map(|known| (strsim::levenshtein(name, known), known))
                .filter(|(distance, _)| *distance <= 2)
                .min_by_key(|(distance, _)| *distance)
                .map(|(_, known)| {
                    format!(
                        "environment variable {name} is not read by Bouncer; did you mean {known}?"
                    )
                })
        })
        .collect();
    warnings.sort();
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names `.env.example` sets (`NAME=value` lines; comments aside).
    fn env_example_names() -> Vec<&'static str> {
        include_str!("../../.env.example")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('=').map(|(name, _)| name.trim()))
            .collect()
    }

    /// The names in the first column of the README's variable tables (those headed
    /// `| Variable |`), each in backquotes.
    fn readme_names() -> Vec<&'static str> {
        let mut names = Vec::new();
        let mut in_table = false;
        for line in include_str!("../../README.md").lines() {
            if line.starts_with("| Variable |") {
                in_table = true;
                continue;
            }
            if !line.starts_with('|') {
                in_table = false;
            }
            if !in_table || line.starts_with("|---") {
                continue;
            }
            let first_cell = line.split('|').nth(1).unwrap_or("");
            names.extend(first_cell.split('`').skip(1).step_by(2));
        }
        names
    }

    #[test]
    fn the_tables_env_example_and_readme_name_the_same_variables() {
        let example = env_example_names();
        let readme = readme_names();
        for var in variables() {
            assert!(
                example.contains(&var.name),
                "{} is read but missing from .env.example",
                var.name
            );
            assert!(
                readme.contains(&var.name),
                "{} is read but missing from the README's variable tables",
                var.name
            );
        }
        for name in example {
            assert!(
                is_known(name),
                ".env.example sets {name}, which no table declares"
            );
        }
        for name in readme {
            assert!(
                is_known(name),
                "the README documents {name}, which no table declares"
            );
        }
    }

    #[test]
    fn each_variable_is_declared_once_with_its_default_and_meaning() {
        let mut names: Vec<_> = variables().map(|v| v.name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a variable is declared twice");
        for var in variables() {
            assert!(!var.default.is_empty(), "{}: no default text", var.name);
            assert!(
                !var.meaning.is_empty() && !var.meaning.contains('\n'),
                "{}: the meaning is one line",
                var.name
            );
        }
    }

    #[test]
    fn warns_on_typos_only() {
        let names = [
            "SESSION_EXPIRE",
            "JWT_SECRETS",
            "MONGO_URI",
            "PATH",
            "HOSTNAME",
            "SESSION_EXPIRY",
            "ALLOW_EMAIL_LOGIN_OVERRIDE",
        ];
        let warnings = unknown_variable_warnings(names.into_iter());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("JWT_SECRETS") && warnings[0].contains("JWT_SECRET?"));
        assert!(warnings[1].contains("SESSION_EXPIRE") && warnings[1].contains("SESSION_EXPIRY"));
    }
}
