//! The operators' own rules: when an ADMIN must have two-factor authentication to use the
//! admin API and console.

use super::values::{variables, Vars};
use super::ConfigError;

variables! {
    REQUIRE_2FA_FOR_ADMINS: "unset (on once any ADMIN has 2FA)", "`true`: admins need 2FA on to use the admin API and console; `false`: they do not.";
}

/// When the admin API refuses an ADMIN without two-factor authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminTwoFactor {
    Required,
    NotRequired,
    /// Unset: required as soon as one ADMIN has turned 2FA on, so a deployment that starts
    /// using 2FA protects its admin powers without a restart, and one that never does keeps
    /// working.
    OnceAnyAdminHasIt,
}

#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub two_factor: AdminTwoFactor,
}

impl AdminConfig {
    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let two_factor = match vars.get(&REQUIRE_2FA_FOR_ADMINS) {
            None => AdminTwoFactor::OnceAnyAdminHasIt,
            Some(v) if v.eq_ignore_ascii_case("true") => AdminTwoFactor::Required,
            Some(v) if v.eq_ignore_ascii_case("false") => AdminTwoFactor::NotRequired,
            Some(v) => {
                return Err(ConfigError::invalid(
                    REQUIRE_2FA_FOR_ADMINS.name,
                    v,
                    "true, false, or unset",
                ))
            }
        };
        Ok(Self { two_factor })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(value: Option<&str>) -> Result<AdminTwoFactor, ConfigError> {
        let mut map = HashMap::new();
        if let Some(v) = value {
            map.insert("REQUIRE_2FA_FOR_ADMINS".to_string(), v.to_string());
        }
        AdminConfig::from_vars(Vars::new(&map)).map(|c| c.two_factor)
    }

    #[test]
    fn three_settings_and_a_typo_refused() {
        assert_eq!(read(None), Ok(AdminTwoFactor::OnceAnyAdminHasIt));
        assert_eq!(read(Some(" ")), Ok(AdminTwoFactor::OnceAnyAdminHasIt));
        assert_eq!(read(Some("TRUE")), Ok(AdminTwoFactor::Required));
        assert_eq!(read(Some("false")), Ok(AdminTwoFactor::NotRequired));
        assert!(read(Some("yes")).is_err());
    }
}
