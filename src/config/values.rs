//! LibreChat's rules for reading values out of the environment, made strict: a value that
//! LibreChat would silently replace by its default is an error here.
//!
//! Every variable is declared once, in the table of the module that reads it (`variables!`),
//! and read through `Vars` with that declaration: no reader takes a bare name, so the list of
//! known names (`known`, for typo warnings) is the union of the tables. Numbers, durations and
//! switches each have one reader here, so a variable's accepted values and its message come
//! from one place.

use std::collections::HashMap;
use std::fmt;
use std::ops::{RangeFrom, RangeInclusive};
use std::str::FromStr;

use super::ConfigError;

/// One variable Bouncer reads. Declared with `variables!`, in its reader's module.
#[derive(Debug, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    /// What an unset or empty variable means, as the documentation words it.
    pub default: &'static str,
    /// One line of meaning.
    pub meaning: &'static str,
}

/// Declares a module's variables: a `pub const` per variable, named as the variable (so the
/// name cannot be misspelt twice), and `pub const VARIABLES`, the module's table of them.
///
/// ```text
/// variables! {
///     PORT: "`3080`", "Port to listen on (0 picks a free one).";
/// }
/// ```
macro_rules! variables {
    ($($name:ident: $default:literal, $meaning:literal;)+) => {
        $(
            #[doc = concat!("`", stringify!($name), "`: ", $meaning, " Default: ", $default, ".")]
            pub const $name: $crate::config::values::Variable = $crate::config::values::Variable {
                name: stringify!($name),
                default: $default,
                meaning: $meaning,
            };
        )+
        /// The variables this module reads, in the order of the documentation.
        pub const VARIABLES: &[&$crate::config::values::Variable] = &[$(&$name),+];
    };
}
pub(crate) use variables;

/// The variables Bouncer was started with (the environment over `.env`). Read only through
/// declared `Variable`s; in debug builds reading an undeclared one panics.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a>(&'a HashMap<String, String>);

impl<'a> Vars<'a> {
    pub fn new(map: &'a HashMap<String, String>) -> Self {
        Self(map)
    }

    /// The value exactly as set; `None` when unset.
    pub fn raw(self, var: &'static Variable) -> Option<&'a str> {
        debug_assert!(
            super::known::is_known(var.name),
            "{} is read but is in no module's VARIABLES table",
            var.name
        );
        self.0.get(var.name).map(String::as_str)
    }

    /// The value trimmed; `None` when unset or blank (blank means unset everywhere).
    pub fn get(self, var: &'static Variable) -> Option<&'a str> {
        self.raw(var).map(str::trim).filter(|v| !v.is_empty())
    }

    /// The trimmed value, or `default`.
    pub fn text(self, var: &'static Variable, default: &str) -> String {
        self.get(var).unwrap_or(default).to_string()
    }

    /// A LibreChat switch (`parse_bool`).
    pub fn flag(self, var: &'static Variable, default: bool) -> bool {
        parse_bool(self.raw(var), default)
    }

    /// A whole number within `accepted`, or `default` when unset.
    pub fn number<T: Whole>(
        self,
        var: &'static Variable,
        default: T,
        accepted: impl Into<Accepted<T>>,
    ) -> Result<T, ConfigError> {
        Ok(self.optional_number(var, accepted)?.unwrap_or(default))
    }

    /// A whole number within `accepted`, or `None` when unset.
    pub fn optional_number<T: Whole>(
        self,
        var: &'static Variable,
        accepted: impl Into<Accepted<T>>,
    ) -> Result<Option<T>, ConfigError> {
        let accepted = accepted.into();
        self.get(var)
            .map(|raw| accepted.check(var.name, raw, raw.parse::<T>().map_err(|_| None)))
            .transpose()
    }

    /// An integer expression (`parse_ms_expression`) within `accepted`, or `default` when unset.
    pub fn expression(
        self,
        var: &'static Variable,
        default: i64,
        accepted: impl Into<Accepted<i64>>,
    ) -> Result<i64, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(raw) => {
                accepted
                    .into()
                    .check(var.name, raw, parse_ms_expression(raw).map_err(Some))
            }
        }
    }

    /// A positive duration in milliseconds of at most 100 years (`duration_ms`), or
    /// `default_ms` when unset.
    pub fn duration(self, var: &'static Variable, default_ms: i64) -> Result<i64, ConfigError> {
        duration_ms(var.name, self.get(var), default_ms)
    }
}

/// The integer types variables are read into.
pub trait Whole: FromStr + Copy + PartialOrd + fmt::Display + Default {}
impl<T: FromStr + Copy + PartialOrd + fmt::Display + Default> Whole for T {}

/// The values a number may take, and how its error message words them:
/// `{noun} from {min} to {max}{note}`, or without a maximum `{noun} of at least {min}{note}`
/// (`of 0 or more` from zero); `worded` replaces the whole text.
#[derive(Debug, Clone)]
pub struct Accepted<T> {
    min: T,
    max: Option<T>,
    noun: &'static str,
    note: &'static str,
    worded: Option<&'static str>,
}

impl<T: Whole> Accepted<T> {
    /// What the value is, e.g. `a port number` (default `a whole number`).
    pub fn noun(self, noun: &'static str) -> Self {
        Self { noun, ..self }
    }

    /// Text after the range, e.g. ` (OWASP asks for at least 8)`.
    pub fn note(self, note: &'static str) -> Self {
        Self { note, ..self }
    }

    /// The whole expectation in other words (the range still decides).
    pub fn worded(self, text: &'static str) -> Self {
        Self {
            worded: Some(text),
            ..self
        }
    }

    fn contains(&self, value: T) -> bool {
        value >= self.min && self.max.is_none_or(|max| value <= max)
    }

    /// `parsed` checked against the range; a parse failure may say why.
    fn check(
        &self,
        name: &str,
        raw: &str,
        parsed: Result<T, Option<String>>,
    ) -> Result<T, ConfigError> {
        match parsed {
            Ok(value) if self.contains(value) => Ok(value),
            Ok(_) | Err(None) => Err(ConfigError::invalid(name, raw, &self.to_string())),
            Err(Some(why)) => Err(ConfigError::invalid(name, raw, &format!("{self} ({why})"))),
        }
    }
}

impl<T: Whole> fmt::Display for Accepted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            min,
            max,
            noun,
            note,
            worded,
        } = self;
        match (worded, max) {
            (Some(text), _) => f.write_str(text),
            (None, Some(max)) => write!(f, "{noun} from {min} to {max}{note}"),
            (None, None) if *min == T::default() => write!(f, "{noun} of {min} or more{note}"),
            (None, None) => write!(f, "{noun} of at least {min}{note}"),
        }
    }
}

impl<T: Whole> From<RangeInclusive<T>> for Accepted<T> {
    fn from(range: RangeInclusive<T>) -> Self {
        let (min, max) = range.into_inner();
        Self {
            min,
            max: Some(max),
            noun: "a whole number",
            note: "",
            worded: None,
        }
    }
}

impl<T: Whole> From<RangeFrom<T>> for Accepted<T> {
    fn from(range: RangeFrom<T>) -> Self {
        Self {
            min: range.start,
            max: None,
            noun: "a whole number",
            note: "",
            worded: None,
        }
    }
}

/// LibreChat's `isEnabled`: on only for the string `true` in any case. An unset or empty
/// variable takes `default_when_unset` (on for `ALLOW_EMAIL_LOGIN`, off for most others).
pub fn parse_bool(raw: Option<&str>, default_when_unset: bool) -> bool {
    match raw.map(str::trim) {
        None | Some("") => default_when_unset,
        Some(v) => v.eq_ignore_ascii_case("true"),
    }
}

/// Evaluates a millisecond duration written as an integer arithmetic expression, as the seed
/// documentation writes them (`1000 * 60 * 15`, `(1000 * 60 * 60 * 24) * 7`). Only digits,
/// `+ - * / %`, parentheses and spaces; integer arithmetic with overflow checks; never an eval.
pub fn parse_ms_expression(input: &str) -> Result<i64, String> {
    const MAX_LEN: usize = 256;
    if input.len() > MAX_LEN {
        return Err(format!("expression longer than {MAX_LEN} characters"));
    }
    let mut parser = ExprParser {
        bytes: input.as_bytes(),
        pos: 0,
        depth: 0,
    };
    parser.skip_spaces();
    if parser.at_end() {
        return Err("empty expression".into());
    }
    let value = parser.sum()?;
    parser.skip_spaces();
    if !parser.at_end() {
        return Err(format!(
            "unexpected character {:?} at position {}",
            parser.bytes[parser.pos] as char,
            parser.pos + 1
        ));
    }
    i64::try_from(value).map_err(|_| "value out of range".to_string())
}

struct ExprParser<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl ExprParser<'_> {
    const MAX_DEPTH: usize = 32;

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn skip_spaces(&mut self) {
        while !self.at_end() && self.bytes[self.pos] == b' ' {
            self.pos += 1;
        }
    }

    fn peek_op(&mut self) -> Option<u8> {
        self.skip_spaces();
        self.bytes.get(self.pos).copied()
    }

    fn sum(&mut self) -> Result<i128, String> {
        let mut acc = self.product()?;
        while let Some(op @ (b'+' | b'-')) = self.peek_op() {
            self.pos += 1;
            let rhs = self.product()?;
            acc = if op == b'+' {
                acc.checked_add(rhs)
            } else {
                acc.checked_sub(rhs)
            }
            .ok_or("arithmetic overflow")?;
        }
        Ok(acc)
    }

    fn product(&mut self) -> Result<i128, String> {
        let mut acc = self.unary()?;
        while let Some(op @ (b'*' | b'/' | b'%')) = self.peek_op() {
            self.pos += 1;
            let rhs = self.unary()?;
            acc = match op {
                b'*' => acc.checked_mul(rhs).ok_or("arithmetic overflow")?,
                _ if rhs == 0 => return Err("division by zero".into()),
                b'/' => acc / rhs,
                _ => acc % rhs,
            };
            if acc.unsigned_abs() > i64::MAX as u128 {
                return Err("value out of range".into());
            }
        }
        Ok(acc)
    }

    fn unary(&mut self) -> Result<i128, String> {
        match self.peek_op() {
            Some(b'-') => {
                self.pos += 1;
                self.nested(|p| p.unary()).map(|v| -v)
            }
            Some(b'+') => {
                self.pos += 1;
                self.nested(|p| p.unary())
            }
            _ => self.atom(),
        }
    }

    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<i128, String>,
    ) -> Result<i128, String> {
        self.depth += 1;
        if self.depth > Self::MAX_DEPTH {
            return Err("expression nested too deeply".into());
        }
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn atom(&mut self) -> Result<i128, String> {
        match self.peek_op() {
            Some(b'(') => {
                self.pos += 1;
                let value = self.nested(|p| p.sum())?;
                if self.peek_op() != Some(b')') {
                    return Err("missing closing parenthesis".into());
                }
                self.pos += 1;
                Ok(value)
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.pos;
                while !self.at_end() && self.bytes[self.pos].is_ascii_digit() {
                    self.pos += 1;
                }
                let digits = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("");
                digits
                    .parse::<i64>()
                    .map(i128::from)
                    .map_err(|_| "number out of range".to_string())
            }
            Some(c) => Err(format!(
                "unexpected character {:?} at position {}",
                c as char,
                self.pos + 1
            )),
            None => Err("expression ends too early".into()),
        }
    }
}

/// The longest duration Bouncer takes (100 years). Every duration is added to the current time
/// somewhere (a token's expiry, a ban's end): a longer one would overflow that sum.
pub const MAX_DURATION_MS: i64 = 100 * 365 * 86_400_000;

/// A positive millisecond duration from an expression, or its default when unset or blank.
pub fn duration_ms(name: &str, raw: Option<&str>, default_ms: i64) -> Result<i64, ConfigError> {
    let Some(raw) = raw.filter(|v| !v.trim().is_empty()) else {
        return Ok(default_ms);
    };
    Accepted::from(1..=MAX_DURATION_MS)
        .worded(
            "a positive number of milliseconds, at most 100 years, as an integer expression \
             such as `1000 * 60 * 15`",
        )
        .check(name, raw, parse_ms_expression(raw).map_err(Some))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_the_documented_expressions() {
        assert_eq!(parse_ms_expression("1000 * 60 * 15"), Ok(900_000));
        assert_eq!(
            parse_ms_expression("(1000 * 60 * 60 * 24) * 7"),
            Ok(604_800_000)
        );
        assert_eq!(parse_ms_expression("900000"), Ok(900_000));
        assert_eq!(parse_ms_expression(" 2 + 3 * 4 "), Ok(14));
        assert_eq!(parse_ms_expression("(2 + 3) * 4"), Ok(20));
        assert_eq!(parse_ms_expression("10 - 2 - 3"), Ok(5));
        assert_eq!(parse_ms_expression("100 / 7"), Ok(14));
        assert_eq!(parse_ms_expression("100 % 7"), Ok(2));
        assert_eq!(parse_ms_expression("-5 + 10"), Ok(5));
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "",
            "   ",
            "15m",
            "1e3",
            "1.5",
            "1000 *",
            "(1000",
            "1000)",
            "1 / 0",
            "5 % 0",
            "process.exit()",
            "99999999999999999999",
            "9223372036854775807 * 2",
            "2 ** 3",
        ] {
            assert!(parse_ms_expression(bad).is_err(), "{bad:?} should fail");
        }
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert!(parse_ms_expression(&deep).is_err());
    }

    #[test]
    fn durations_are_positive_and_at_most_a_century() {
        assert_eq!(duration_ms("X", Some("1000 * 60"), 1), Ok(60_000));
        assert_eq!(duration_ms("X", None, 7), Ok(7));
        for bad in [
            "0",
            "-1",
            "9223372036854775807",
            "1000 * 60 * 60 * 24 * 365 * 101",
        ] {
            let err = duration_ms("X", Some(bad), 1).unwrap_err().to_string();
            assert!(err.contains("at most 100 years"), "{bad}: {err}");
        }
        let err = duration_ms("X", Some("15m"), 1).unwrap_err().to_string();
        assert!(
            err.contains("integer expression") && err.contains("(unexpected character 'm'"),
            "{err}"
        );
    }

    #[test]
    fn numbers_name_the_variable_the_value_and_the_range() {
        use super::super::{moderation, DATABASE_MAX_CONNECTIONS, MIN_PASSWORD_LENGTH, PORT};
        let map: HashMap<String, String> = [
            ("PORT", " 8080 "),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("LOGIN_MAX", "seven"),
            ("TRUST_PROXY", "4294967296"),
            ("LOGIN_VIOLATION_SCORE", "-1"),
            ("BAN_INTERVAL", "2 *"),
            ("MIN_PASSWORD_LENGTH", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let vars = Vars::new(&map);
        let port = Accepted::from(0..=u16::MAX).noun("a port number");
        assert_eq!(vars.number(&PORT, 3080, port), Ok(8080));
        let message = |r: Result<u64, ConfigError>| r.unwrap_err().to_string();
        assert_eq!(
            vars.number(&DATABASE_MAX_CONNECTIONS, 10u32, 1..=1000)
                .unwrap_err()
                .to_string(),
            "invalid value for DATABASE_MAX_CONNECTIONS: \"0\"; expected a whole number from 1 to 1000"
        );
        assert!(message(vars.number(&moderation::LOGIN_MAX, 7, 1..))
            .ends_with("\"seven\"; expected a whole number of at least 1"));
        assert!(vars
            .number(&moderation::TRUST_PROXY, 1u32, 0..=u32::MAX)
            .unwrap_err()
            .to_string()
            .ends_with("expected a whole number from 0 to 4294967295"));
        assert!(vars
            .number(&moderation::LOGIN_VIOLATION_SCORE, 1i64, 0..)
            .unwrap_err()
            .to_string()
            .ends_with("expected a whole number of 0 or more"));
        let interval = Accepted::from(1..).worded("a positive whole number");
        assert!(vars
            .expression(&moderation::BAN_INTERVAL, 20, interval)
            .unwrap_err()
            .to_string()
            .contains("expected a positive whole number (expression ends too early)"));
        assert_eq!(vars.number(&moderation::MESSAGE_IP_MAX, 40u64, 1..), Ok(40));
        assert_eq!(
            vars.optional_number(&MIN_PASSWORD_LENGTH, 1usize..=128),
            Ok(None),
            "blank is unset"
        );
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "in no module's VARIABLES table")]
    fn reading_an_undeclared_variable_panics() {
        static UNDECLARED: Variable = Variable {
            name: "NOT_A_BOUNCER_VARIABLE",
            default: "unset",
            meaning: "Declared outside every table.",
        };
        let _ = Vars::new(&HashMap::new()).get(&UNDECLARED);
    }

    #[test]
    fn booleans_follow_librechat() {
        assert!(parse_bool(Some("true"), false));
        assert!(parse_bool(Some(" TRUE "), false));
        assert!(!parse_bool(Some("1"), false));
        assert!(!parse_bool(Some("yes"), true));
        assert!(parse_bool(None, true));
        assert!(parse_bool(Some(""), true));
        assert!(!parse_bool(None, false));
    }
}
