//! LibreChat's login and registration schemas (zod, in `api/strategies/validators.js`),
//! reproduced message for message: the web client shows these texts.

use std::sync::LazyLock;

use regex::Regex;

/// Registration fields as they arrive. `None` = absent or JSON null.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct RegistrationInput {
    pub name: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub confirm_password: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRegistration {
    pub name: String,
    /// Lower-cased; empty when none was given.
    pub username: String,
    /// Trimmed and lower-cased.
    pub email: String,
    pub password: String,
}

/// JavaScript string length (UTF-16 code units), which is what zod's `min`/`max` count.
fn js_len(s: &str) -> usize {
    s.encode_utf16().count()
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_'+\-.]*[A-Za-z0-9_+\-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$")
        .expect("email regex")
});

static USERNAME_CHARS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[a-zA-Z0-9_.@#$%&*()\p{Script=Latin}\p{Script=Common}\p{Script=Cyrillic}\p{Script=Devanagari}\p{Script=Han}\p{Script=Arabic}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+$",
    )
    .expect("username regex")
});

static INJECTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)('|--|\$ne|\$gt|\$lt|\$or|\{|\}|\*|;|<|>|/|=)").expect("injection regex")
});

/// zod's `z.string().email()`.
pub fn is_valid_email(email: &str) -> bool {
    email.len() <= 254 && !email.starts_with('.') && !email.contains("..") && EMAIL.is_match(email)
}

/// Collects `path: message` issues in schema order, as zod reports them.
#[derive(Default)]
struct Issues(Vec<String>);

impl Issues {
    fn add(&mut self, path: &str, message: &str) {
        self.0.push(format!("{path}: {message}"));
    }

    fn string_length(&mut self, path: &str, value: &str, min: usize, max: usize) {
        let len = js_len(value);
        if len < min {
            self.add(
                path,
                &format!("String must contain at least {min} character(s)"),
            );
        }
        if len > max {
            self.add(
                path,
                &format!("String must contain at most {max} character(s)"),
            );
        }
    }

    fn password(&mut self, path: &str, value: &str, min: usize) {
        self.string_length(path, value, min, 128);
        if value.trim().is_empty() {
            self.add(path, "Password cannot be only spaces");
        }
    }

    fn email(&mut self, path: &str, value: &str) {
        if !is_valid_email(value) {
            self.add(path, "Invalid email");
        }
    }

    fn into_result(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0.join(" "))
        }
    }
}

/// `registerSchema`. The error text joins every issue as `path: message`; the password
/// mismatch has an empty path (so it reads `: The passwords did not match`) and, as in zod, is
/// only checked when every field is present.
pub fn validate_registration(
    input: &RegistrationInput,
    min_password_length: usize,
) -> Result<ValidRegistration, String> {
    let mut issues = Issues::default();
    let mut all_present = true;
    let mut required = |issues: &mut Issues, path: &str, value: &Option<String>| {
        if value.is_none() {
            issues.add(path, "Required");
            all_present = false;
        }
    };

    required(&mut issues, "name", &input.name);
    if let Some(name) = &input.name {
        issues.string_length("name", name, 3, 80);
        // Bouncer's own rule (zod has none): a line break in a name forges mail headers.
        if super::names::has_control(name) {
            issues.add("name", "Invalid characters in name");
        }
    }

    let username = input.username.as_deref().unwrap_or("");
    if !username.is_empty() {
        issues.string_length("username", username, 2, 80);
        // Script=Common holds the control characters: they are refused apart.
        if !USERNAME_CHARS.is_match(username) || super::names::has_control(username) {
            issues.add("username", "Invalid characters in username");
        }
        if INJECTION.is_match(username) {
            issues.add("username", "Potential injection attack detected");
        }
    }

    required(&mut issues, "email", &input.email);
    let email = input.email.as_deref().map(str::trim).unwrap_or("");
    if input.email.is_some() {
        issues.email("email", email);
    }

    required(&mut issues, "password", &input.password);
    if let Some(p) = &input.password {
        issues.password("password", p, min_password_length);
    }
    required(&mut issues, "confirm_password", &input.confirm_password);
    if let Some(p) = &input.confirm_password {
        issues.password("confirm_password", p, min_password_length);
    }

    if all_present && input.password != input.confirm_password {
        issues.add("", "The passwords did not match");
    }
    issues.into_result()?;
    Ok(ValidRegistration {
        name: input.name.clone().unwrap_or_default(),
        username: username.to_lowercase(),
        email: super::Email::normalized(email).into_string(),
        password: input.password.clone().unwrap_or_default(),
    })
}

/// The password rules of registration, for every other path that sets a password.
pub fn validate_new_password(password: &str, min_password_length: usize) -> Result<(), String> {
    let mut issues = Issues::default();
    issues.password("password", password, min_password_length);
    issues.into_result()
}

/// `loginSchema`, after passport-local's own check for missing fields.
pub fn validate_login(
    email: &str,
    password: &str,
    min_password_length: usize,
) -> Result<(), String> {
    let mut issues = Issues::default();
    issues.email("email", email.trim());
    issues.password("password", password, min_password_length);
    issues.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(
        name: &str,
        username: Option<&str>,
        email: &str,
        pw: &str,
        confirm: &str,
    ) -> RegistrationInput {
        RegistrationInput {
            name: Some(name.into()),
            username: username.map(Into::into),
            email: Some(email.into()),
            password: Some(pw.into()),
            confirm_password: Some(confirm.into()),
        }
    }

    #[test]
    fn accepts_a_good_registration_and_normalises() {
        let ok = validate_registration(
            &input(
                "Ada Lovelace",
                Some("Ada.L"),
                "  Ada@Example.COM ",
                "password123",
                "password123",
            ),
            8,
        )
        .unwrap();
        assert_eq!(ok.email, "ada@example.com");
        assert_eq!(ok.username, "ada.l");
        let no_username = validate_registration(
            &input("Ada", Some(""), "a@b.co", "password123", "password123"),
            8,
        )
        .unwrap();
        assert_eq!(no_username.username, "");
    }

    #[test]
    fn reports_zod_messages() {
        let cases: &[(RegistrationInput, &str)] = &[
            (input("Al", None, "a@b.co", "password123", "password123"),
             "name: String must contain at least 3 character(s)"),
            (input(&"x".repeat(81), None, "a@b.co", "password123", "password123"),
             "name: String must contain at most 80 character(s)"),
            (input("Ada", Some("a"), "a@b.co", "password123", "password123"),
             "username: String must contain at least 2 character(s)"),
            (input("Ada", Some("bob;drop"), "a@b.co", "password123", "password123"),
             "username: Potential injection attack detected"),
            (input("Ada", None, "not-an-email", "password123", "password123"), "email: Invalid email"),
            (input("Ada", None, "a..b@c.co", "password123", "password123"), "email: Invalid email"),
            (input("Ada", None, "a@b.co", "short", "short"),
             "password: String must contain at least 8 character(s) confirm_password: String must contain at least 8 character(s)"),
            (input("Ada", None, "a@b.co", "          ", "          "),
             "password: Password cannot be only spaces confirm_password: Password cannot be only spaces"),
            (input("Ada", None, "a@b.co", &"p".repeat(129), &"p".repeat(129)),
             "password: String must contain at most 128 character(s) confirm_password: String must contain at most 128 character(s)"),
            (input("Ada", None, "a@b.co", "password123", "password124"), ": The passwords did not match"),
        ];
        for (case, expected) in cases {
            assert_eq!(validate_registration(case, 8).unwrap_err(), *expected);
        }
    }

    #[test]
    fn missing_fields_are_required_and_skip_the_match_check() {
        let err = validate_registration(&RegistrationInput::default(), 8).unwrap_err();
        assert_eq!(
            err,
            "name: Required email: Required password: Required confirm_password: Required"
        );
    }

    #[test]
    fn min_length_follows_configuration() {
        let c = input("Ada", None, "a@b.co", "password123", "password123");
        assert!(validate_registration(&c, 12)
            .unwrap_err()
            .contains("at least 12"));
        assert!(validate_login("a@b.co", "password123", 12).is_err());
        assert!(validate_login("a@b.co", "password123", 8).is_ok());
        assert_eq!(
            validate_login("nope", "password123", 8).unwrap_err(),
            "email: Invalid email"
        );
    }

    #[test]
    fn control_characters_are_refused_in_names_and_usernames() {
        for bad in [
            "Eve\r\nBcc: x@evil.example",
            "Eve\nSmith",
            "Eve\tSmith",
            "Eve\0Smith",
            "Eve\u{7f}Smith",
            "Eve\u{85}Smith",
            "Eve\u{2028}Smith",
            "Eve\u{2029}Smith",
        ] {
            assert_eq!(
                validate_registration(&input(bad, None, "a@b.co", "password123", "password123"), 8)
                    .unwrap_err(),
                "name: Invalid characters in name",
                "{bad:?}"
            );
            let username = bad.replace([' ', ':', '@'], "");
            assert_eq!(
                validate_registration(
                    &input(
                        "Eve",
                        Some(&username),
                        "a@b.co",
                        "password123",
                        "password123"
                    ),
                    8
                )
                .unwrap_err(),
                "username: Invalid characters in username",
                "{username:?}"
            );
        }
        assert!(validate_registration(
            &input(
                "Jānis Bērziņš",
                None,
                "a@b.co",
                "password123",
                "password123"
            ),
            8
        )
        .is_ok());
    }

    #[test]
    fn unicode_usernames_of_listed_scripts_pass() {
        for ok in ["Иван", "李小龙", "josé_1", "たなか"] {
            assert!(
                validate_registration(
                    &input("Name", Some(ok), "a@b.co", "password123", "password123"),
                    8
                )
                .is_ok(),
                "{ok}"
            );
        }
        let greek = validate_registration(
            &input("Name", Some("αβγ"), "a@b.co", "password123", "password123"),
            8,
        );
        assert_eq!(
            greek.unwrap_err(),
            "username: Invalid characters in username"
        );
    }
}
