//! The common-password blocklist: on by default, with an optional list of the operator's own.

use std::path::PathBuf;

use super::values::{variables, Vars};
use super::ConfigError;

variables! {
    PASSWORD_BLOCKLIST: "`true`", "Refuse new passwords found on a list of common ones (zxcvbn's 30,000, the user's own name and email, and `PASSWORD_BLOCKLIST_FILE`); `false` turns it off.";
    PASSWORD_BLOCKLIST_FILE: "unset", "A file of further passwords to refuse, one per line (compared without case; `#` starts a comment line), read at start.";
}

#[derive(Debug, Clone)]
pub struct PasswordsConfig {
    /// `PASSWORD_BLOCKLIST`.
    pub blocklist: bool,
    /// `PASSWORD_BLOCKLIST_FILE`.
    pub blocklist_file: Option<PathBuf>,
}

impl PasswordsConfig {
    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let blocklist = vars.flag(&PASSWORD_BLOCKLIST, true);
        let blocklist_file = vars
            .get(&PASSWORD_BLOCKLIST_FILE)
            .filter(|path| !path.trim().is_empty())
            .map(PathBuf::from);
        if let (false, Some(file)) = (blocklist, &blocklist_file) {
            return Err(ConfigError::invalid(
                PASSWORD_BLOCKLIST_FILE.name,
                &file.display().to_string(),
                "unset while PASSWORD_BLOCKLIST=false (the list would never be read)",
            ));
        }
        Ok(Self {
            blocklist,
            blocklist_file,
        })
    }
}
