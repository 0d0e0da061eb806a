//! Passwords too common to accept (NIST SP 800-63B §3.1.1.2, OWASP ASVS 5 V6.2.11): zxcvbn's
//! list of the 30,000 most common passwords (with its case, reversal and l33t variants), the
//! account's own name and email, the product's names, and the operator's own list
//! (`PASSWORD_BLOCKLIST_FILE`). Only a password that is *entirely* one of those is refused:
//! a passphrase that contains a common word is fine, and no composition rule is imposed.

use std::collections::HashSet;
use std::path::Path;

use zxcvbn::matching::patterns::{DictionaryPattern, MatchPattern};

use crate::config::passwords::PasswordsConfig;

/// The message of the refusal, after the field's path (LibreChat's `path: message` shape).
pub const TOO_COMMON: &str =
    "This password is too common (it is on a list of frequently used passwords); choose another";

/// Words no password of this service should be: everyone guesses them first.
const SERVICE_WORDS: &[&str] = &["librechat", "bouncer"];

/// zxcvbn looks at passwords of at most this many characters (its lists hold nothing longer);
/// longer ones are compared against the account's words and the operator's list directly.
const LONGEST_MATCHED: usize = 32;

/// zxcvbn's l33t matcher tries every combination of the substitutions a password allows, so
/// a password made of all twenty l33t characters (`4@8({[<3…`) costs it over a second in a
/// debug build, twelve of them a tenth of that. The l33t spellings of common passwords use a few
/// (`p@ssw0rd`: two); a password with more than this many different ones is no spelling of a
/// listed word and skips zxcvbn.
const MOST_L33T_CHARACTERS: usize = 12;

/// The characters zxcvbn reads as l33t substitutions.
const L33T: &str = "4@8({[<3691!|$5+7%20";

#[derive(Debug, Default)]
pub struct PasswordBlocklist {
    enabled: bool,
    /// The operator's list, lower-cased.
    extra: HashSet<Box<str>>,
}

impl PasswordBlocklist {
    /// No blocklist (`PASSWORD_BLOCKLIST=false`).
    pub fn off() -> Self {
        Self::default()
    }

    /// zxcvbn's lists and the operator's file. An unreadable file stops the start: the operator
    /// asked for those passwords to be refused.
    pub fn load(config: &PasswordsConfig) -> anyhow::Result<Self> {
        if !config.blocklist {
            return Ok(Self::off());
        }
        let extra = match &config.blocklist_file {
            None => HashSet::new(),
            Some(path) => read_list(path)?,
        };
        if !extra.is_empty() {
            tracing::info!(
                passwords = extra.len(),
                "password blocklist: zxcvbn's lists and PASSWORD_BLOCKLIST_FILE"
            );
        }
        Ok(Self {
            enabled: true,
            extra,
        })
    }

    /// Whether `password` is too common for an account with these `personal` words (its name,
    /// username, email). Runs zxcvbn's matchers: a few milliseconds, on the password-setting
    /// paths only.
    pub fn refuses(&self, password: &str, personal: &[&str]) -> bool {
        if !self.enabled {
            return false;
        }
        let lower = password.to_lowercase();
        if self.extra.contains(lower.as_str()) {
            return true;
        }
        let mut words: Vec<&str> = SERVICE_WORDS.to_vec();
        for word in personal.iter().filter(|w| !w.trim().is_empty()) {
            words.push(word);
            // The email's local part is what people reuse ("ada.lovelace" of ada.lovelace@…).
            if let Some((local, _)) = word.split_once('@') {
                words.push(local);
            }
        }
        if words.iter().any(|w| w.to_lowercase() == lower) {
            return true;
        }
        let length = password.chars().count();
        if length == 0
            || length > LONGEST_MATCHED
            || l33t_characters(password) > MOST_L33T_CHARACTERS
        {
            return false;
        }
        let entropy = zxcvbn::zxcvbn(password, &words);
        // The whole password is one dictionary match from the common passwords or the
        // account's own words (l33t, reversed or capitalised); a password that only contains
        // one is left alone.
        match entropy.sequence() {
            [only] if only.i == 0 && only.j + 1 == length => match &only.pattern {
                MatchPattern::Dictionary(d) => from_refused_list(d),
                _ => false,
            },
            _ => false,
        }
    }
}

fn l33t_characters(password: &str) -> usize {
    L33T.chars().filter(|c| password.contains(*c)).count()
}

/// Whether the match comes from the common passwords or the account's own words, not from
/// the English, names or film dictionaries (a single word of those is long enough to be a
/// fine password by NIST's rules). zxcvbn's `DictionaryType` cannot be named from outside the
/// crate (its module is private), so its variants are recognised by their `Debug` names.
fn from_refused_list(d: &DictionaryPattern) -> bool {
    matches!(
        format!("{:?}", d.dictionary_name).as_str(),
        "Passwords" | "UserInputs"
    )
}

/// One password per line; blank lines and lines starting with `#` are skipped. Lines keep
/// their inner spaces (a passphrase may be listed) but lose the line ending's `\r`.
fn read_list(path: &Path) -> anyhow::Result<HashSet<Box<str>>> {
    let text = std::fs::read(path).map_err(|e| {
        anyhow::anyhow!(
            "PASSWORD_BLOCKLIST_FILE={}: cannot read it: {e}",
            path.display()
        )
    })?;
    // Lists in the wild (rockyou and its kin) are not all UTF-8; a line that is not cannot be
    // a password anyone types into a JSON body, so it is skipped rather than failing the start.
    let text = String::from_utf8_lossy(&text);
    Ok(text
        .lines()
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter(|line| !line.contains('\u{FFFD}'))
        .map(|line| line.to_lowercase().into_boxed_str())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> PasswordBlocklist {
        PasswordBlocklist {
            enabled: true,
            extra: HashSet::new(),
        }
    }

    #[test]
    fn common_passwords_and_their_variants_are_refused() {
        let list = on();
        for common in [
            "password",
            "Password",
            "PASSWORD",
            "12345678",
            "iloveyou",
            "qwertyuiop",
            "p@ssw0rd",
            "drowssap",
            "sunshine",
            "football1",
        ] {
            assert!(list.refuses(common, &[]), "{common} should be refused");
        }
    }

    #[test]
    fn strong_passwords_and_passphrases_are_accepted() {
        let list = on();
        for strong in [
            "correct horse battery",
            "Tr0ub4dor&3-zebra-quilt",
            "password is not my password",
            "vK8#qL2!xZ9@mN4$",
            "ada-lovelace-1815-engine",
        ] {
            assert!(!list.refuses(strong, &[]), "{strong} should be accepted");
        }
    }

    #[test]
    fn the_accounts_own_words_and_the_products_names_are_refused() {
        let list = on();
        let personal = ["Ada Lovelace", "adalovelace", "ada.lovelace@example.com"];
        assert!(list.refuses("ada.lovelace", &personal));
        assert!(list.refuses("AdaLovelace", &personal));
        assert!(list.refuses("ada.lovelace@example.com", &personal));
        assert!(list.refuses("LibreChat", &personal));
        assert!(list.refuses("bouncer", &personal));
        assert!(!list.refuses("ada.lovelace", &[]), "only her own words");
    }

    #[test]
    fn the_operators_list_is_compared_without_case_and_only_whole() {
        let dir = std::env::temp_dir().join(format!("bouncer-blocklist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("list.txt");
        std::fs::write(
            &file,
            "# our own\r\nAcme-Rocket-2026\r\n\r\nwinter in the valley\n",
        )
        .unwrap();
        let list = PasswordBlocklist::load(&PasswordsConfig {
            blocklist: true,
            blocklist_file: Some(file.clone()),
        })
        .unwrap();
        assert!(list.refuses("acme-rocket-2026", &[]));
        assert!(list.refuses("WINTER IN THE VALLEY", &[]));
        assert!(!list.refuses("acme-rocket-2026!", &[]));
        assert!(!list.refuses("# our own", &[]), "comments are not entries");
        assert!(list.refuses("password", &[]), "zxcvbn's list still applies");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unreadable_file_stops_the_start_and_off_refuses_nothing() {
        let missing = PasswordBlocklist::load(&PasswordsConfig {
            blocklist: true,
            blocklist_file: Some("/nonexistent/blocklist.txt".into()),
        });
        let message = missing.unwrap_err().to_string();
        assert!(message.contains("PASSWORD_BLOCKLIST_FILE"), "{message}");
        assert!(!PasswordBlocklist::off().refuses("password", &[]));
    }

    #[test]
    fn very_long_and_odd_input_is_no_trouble() {
        let list = on();
        assert!(!list.refuses(&"a".repeat(10_000), &[]));
        assert!(!list.refuses("", &[]));
        assert!(!list.refuses("\u{0}\u{202e}𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡", &["\u{0}"]));
        // Every l33t character zxcvbn knows: skipped before its matcher multiplies the work.
        assert!(!list.refuses("4@8({[<3691!|$5+7%20@8({[<3691!|", &[]));
        assert_eq!(l33t_characters("p@ssw0rd"), 2);
    }
}
