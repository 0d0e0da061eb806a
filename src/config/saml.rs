//! SAML 2.0 settings (spec §1.4, SAML row), read only when the provider is enabled:
//! `ALLOW_SOCIAL_LOGIN`, the four required variables, and OpenID not configured (LibreChat
//! registers one of the two, OpenID first).

use super::values::{variables, Vars};
use super::{ConfigError, Secret};

variables! {
    SAML_ENTRY_POINT: "unset", "Required: the identity provider's single sign-on URL (HTTP-Redirect binding).";
    SAML_ISSUER: "unset", "Required: Bouncer's entity ID at the identity provider (the assertions' Audience).";
    SAML_CERT: "unset", "Required: the identity provider's signing certificate: PEM text, its one-line base64 body, or a file path.";
    SAML_SESSION_SECRET: "unset", "Required, at least 32 characters, as LibreChat asks (Bouncer keeps the flow in its signed state cookie).";
    SAML_CALLBACK_URL: "`/oauth/saml/callback`", "The assertion consumer service: relative to `DOMAIN_SERVER`, or absolute.";
    SAML_EMAIL_CLAIM: "`email`, then `mail` and its OID", "Attribute holding the email.";
    SAML_USERNAME_CLAIM: "`username`", "Attribute holding the username.";
    SAML_GIVEN_NAME_CLAIM: "`given_name`", "Attribute holding the given name.";
    SAML_FAMILY_NAME_CLAIM: "`family_name`", "Attribute holding the family name.";
    SAML_PICTURE_CLAIM: "`picture`", "Attribute holding the avatar URL.";
    SAML_NAME_CLAIM: "given and family name", "Attribute holding the full name.";
    SAML_BUTTON_LABEL: "unset (the client's own label)", "Text of the login button.";
    SAML_IMAGE_URL: "unset", "Icon of the login button.";
    SAML_USE_AUTHN_RESPONSE_SIGNED: "`false`", "Require the whole Response signed instead of the Assertion.";
}

/// The variables without which SAML is off, in LibreChat's order.
const REQUIRED: [&super::values::Variable; 4] = [
    &SAML_ENTRY_POINT,
    &SAML_ISSUER,
    &SAML_CERT,
    &SAML_SESSION_SECRET,
];

#[derive(Debug, Clone)]
pub struct SamlConfig {
    /// `SAML_ENTRY_POINT`: where the AuthnRequest goes.
    pub entry_point: String,
    /// `SAML_ISSUER`: Bouncer's entity ID, the issuer of its requests and the audience the
    /// assertions must name.
    pub issuer: String,
    /// The identity provider's signing certificates (DER), the only keys a signature may be
    /// made with; a certificate inside the response is never trusted.
    pub certificates: Vec<Vec<u8>>,
    /// Required as LibreChat requires it; the flow's state travels in Bouncer's own cookie.
    pub session_secret: Secret,
    /// Absolute URL of the assertion consumer service: the Destination and Recipient the
    /// responses must name.
    pub callback_url: String,
    pub email_claim: Option<String>,
    pub username_claim: Option<String>,
    pub given_name_claim: Option<String>,
    pub family_name_claim: Option<String>,
    pub picture_claim: Option<String>,
    pub name_claim: Option<String>,
    pub button_label: Option<String>,
    pub image_url: Option<String>,
    /// `SAML_USE_AUTHN_RESPONSE_SIGNED=true`: the Response must be signed (and then the
    /// Assertion need not be); otherwise the Assertion must be.
    pub response_signed: bool,
}

impl SamlConfig {
    /// `Ok(None)` when SAML is not enabled. Some but not all of the required variables is an
    /// error that names the missing ones: a half-configured SAML is a mistake, not a choice.
    pub fn from_vars(
        vars: Vars,
        allow_social_login: bool,
        domain_server: &str,
        openid_configured: bool,
    ) -> Result<Option<Self>, ConfigError> {
        let missing: Vec<&str> = REQUIRED
            .iter()
            .filter(|v| vars.get(v).is_none())
            .map(|v| v.name)
            .collect();
        if missing.len() == REQUIRED.len() || !allow_social_login {
            return Ok(None);
        }
        if !missing.is_empty() {
            return Err(ConfigError::Other(format!(
                "SAML is half configured: {} set but {} missing; set all four or none",
                REQUIRED
                    .iter()
                    .map(|v| v.name)
                    .filter(|n| !missing.contains(n))
                    .collect::<Vec<_>>()
                    .join(", "),
                missing.join(", ")
            )));
        }
        if openid_configured {
            // `warnings` says so at start.
            return Ok(None);
        }
        let value = |v: &'static super::values::Variable| vars.get(v).unwrap_or_default();
        let session_secret = value(&SAML_SESSION_SECRET);
        if session_secret.len() < 32 {
            return Err(ConfigError::secret(
                SAML_SESSION_SECRET.name,
                "is shorter than 32 characters; generate one with `openssl rand -hex 32`",
            ));
        }
        let entry_point = value(&SAML_ENTRY_POINT);
        match url::Url::parse(entry_point) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return Err(ConfigError::invalid(
                    SAML_ENTRY_POINT.name,
                    entry_point,
                    "the identity provider's sign-on URL, e.g. https://idp.example.com/sso",
                ))
            }
        }
        let callback = vars
            .get(&SAML_CALLBACK_URL)
            .unwrap_or("/oauth/saml/callback");
        let callback_url = if callback.starts_with("http://") || callback.starts_with("https://") {
            callback.to_string()
        } else {
            super::social::join_url(domain_server, callback)
        };
        let claim = |v: &'static super::values::Variable| vars.get(v).map(str::to_string);
        Ok(Some(Self {
            entry_point: entry_point.to_string(),
            issuer: value(&SAML_ISSUER).to_string(),
            certificates: certificates(value(&SAML_CERT))?,
            session_secret: Secret::new(session_secret.to_string()),
            callback_url,
            email_claim: claim(&SAML_EMAIL_CLAIM),
            username_claim: claim(&SAML_USERNAME_CLAIM),
            given_name_claim: claim(&SAML_GIVEN_NAME_CLAIM),
            family_name_claim: claim(&SAML_FAMILY_NAME_CLAIM),
            picture_claim: claim(&SAML_PICTURE_CLAIM),
            name_claim: claim(&SAML_NAME_CLAIM),
            button_label: claim(&SAML_BUTTON_LABEL),
            image_url: claim(&SAML_IMAGE_URL),
            response_signed: vars.flag(&SAML_USE_AUTHN_RESPONSE_SIGNED, false),
        }))
    }
}

/// What to warn about at start: SAML configured but off because OpenID is too.
pub fn warnings(vars: Vars, allow_social_login: bool, openid_configured: bool) -> Vec<String> {
    let all_set = REQUIRED.iter().all(|v| vars.get(v).is_some());
    if allow_social_login && all_set && openid_configured {
        vec![
            "SAML is configured but so is OpenID, which LibreChat prefers: SAML sign-in is off"
                .into(),
        ]
    } else {
        Vec::new()
    }
}

/// `SAML_CERT` as LibreChat reads it: PEM text (one or more certificates), the base64 body of
/// one certificate on one line, or the path of a file holding either. Each certificate must
/// parse as X.509; a bare public key (which LibreChat also takes) is refused, since the
/// signature checker takes certificates.
fn certificates(value: &str) -> Result<Vec<Vec<u8>>, ConfigError> {
    let invalid = |why: &str| ConfigError::invalid(SAML_CERT.name, &abbreviated(value), why);
    let text = if value.contains("-----BEGIN") || looks_like_base64(value) {
        value.to_string()
    } else {
        std::fs::read_to_string(value).map_err(|e| {
            invalid(&format!(
                "a PEM certificate, its base64 body, or a readable file ({e})"
            ))
        })?
    };
    let text = text.trim();
    let bodies: Vec<String> = if text.contains("-----BEGIN") {
        if text.contains("-----BEGIN PUBLIC KEY-----") {
            return Err(invalid(
                "a certificate (-----BEGIN CERTIFICATE-----); a bare public key is not supported",
            ));
        }
        let mut bodies = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
            let after = &rest[start + "-----BEGIN CERTIFICATE-----".len()..];
            let end = after
                .find("-----END CERTIFICATE-----")
                .ok_or_else(|| invalid("a PEM certificate with its END line"))?;
            bodies.push(after[..end].to_string());
            rest = &after[end..];
        }
        bodies
    } else {
        vec![text.to_string()]
    };
    if bodies.is_empty() {
        return Err(invalid("a PEM certificate (-----BEGIN CERTIFICATE-----)"));
    }
    use base64::Engine;
    bodies
        .iter()
        .map(|body| {
            let compact: String = body.split_whitespace().collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|_| invalid("a certificate whose body is valid base64"))?;
            openssl::x509::X509::from_der(&der)
                .map_err(|_| invalid("an X.509 certificate (it does not parse)"))?;
            Ok(der)
        })
        .collect()
}

fn looks_like_base64(value: &str) -> bool {
    value.len().is_multiple_of(4)
        && value.len() >= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
}

/// A certificate is long: the error shows its start.
fn abbreviated(value: &str) -> String {
    match value.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = include_str!("../../tests/peers/saml/test-idp-cert.pem");

    fn saml(
        pairs: &[(&str, &str)],
        social: bool,
        openid: bool,
    ) -> Result<Option<SamlConfig>, ConfigError> {
        let mut vars: std::collections::HashMap<String, String> = [
            ("SAML_ENTRY_POINT", "https://idp.example.com/sso"),
            ("SAML_ISSUER", "bouncer"),
            ("SAML_CERT", CERT),
            ("SAML_SESSION_SECRET", "s".repeat(40).as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            vars.insert(k.to_string(), v.to_string());
        }
        SamlConfig::from_vars(Vars::new(&vars), social, "https://chat.example.com", openid)
    }

    #[test]
    fn enabled_only_as_librechat_says() {
        let c = saml(&[], true, false).unwrap().unwrap();
        assert_eq!(
            c.callback_url,
            "https://chat.example.com/oauth/saml/callback"
        );
        assert_eq!(c.certificates.len(), 1);
        assert!(!c.response_signed);
        assert!(
            saml(&[], false, false).unwrap().is_none(),
            "ALLOW_SOCIAL_LOGIN off"
        );
        assert!(saml(&[], true, true).unwrap().is_none(), "OpenID wins");
        let vars: std::collections::HashMap<String, String> = REQUIRED
            .iter()
            .map(|v| (v.name.to_string(), "x".to_string()))
            .collect();
        assert_eq!(
            warnings(Vars::new(&vars), true, true).len(),
            1,
            "and says so"
        );
        assert!(warnings(Vars::new(&vars), true, false).is_empty());
        let none: Vec<_> = REQUIRED.iter().map(|v| (v.name, "")).collect();
        assert!(saml(&none, true, false).unwrap().is_none(), "nothing set");
        let absolute = saml(
            &[(
                "SAML_CALLBACK_URL",
                "https://sso.example.com/oauth/saml/callback",
            )],
            true,
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            absolute.callback_url,
            "https://sso.example.com/oauth/saml/callback"
        );
    }

    #[test]
    fn the_certificate_comes_as_pem_one_line_or_a_file() {
        let body: String = CERT.lines().filter(|l| !l.starts_with("-----")).collect();
        let one_line = saml(&[("SAML_CERT", &body)], true, false).unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idp.pem");
        std::fs::write(&path, format!("{CERT}{CERT}")).unwrap();
        let file = saml(&[("SAML_CERT", path.to_str().unwrap())], true, false)
            .unwrap()
            .unwrap();
        assert_eq!(file.certificates.len(), 2, "every certificate of the file");
        assert_eq!(file.certificates[0], one_line.certificates[0]);
    }

    #[test]
    fn half_a_configuration_and_bad_values_are_errors() {
        let err = saml(&[("SAML_CERT", ""), ("SAML_ISSUER", " ")], true, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SAML_ISSUER, SAML_CERT missing"),
            "names what is missing: {err}"
        );
        for (var, value) in [
            ("SAML_SESSION_SECRET", "short"),
            ("SAML_ENTRY_POINT", "not a url"),
            ("SAML_CERT", "/no/such/file.pem"),
            (
                "SAML_CERT",
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            ),
            (
                "SAML_CERT",
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            ),
        ] {
            let err = saml(&[(var, value)], true, false).unwrap_err().to_string();
            assert!(err.contains(var), "{var}: {err}");
            assert!(!err.contains(&"s".repeat(40)), "no secret in {err}");
        }
    }
}
