//! LibreChat's rules for reading values out of the environment, made strict: a value that
//! LibreChat would silently replace by its default is an error here.

use super::ConfigError;

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

/// A positive millisecond duration from an expression, or its default when unset.
/// The longest duration Bouncer takes (100 years). Every duration is added to the current time
/// somewhere (a token's expiry, a ban's end): a longer one would overflow that sum.
pub const MAX_DURATION_MS: i64 = 100 * 365 * 86_400_000;

pub fn duration_ms(name: &str, raw: Option<&str>, default_ms: i64) -> Result<i64, ConfigError> {
    let Some(raw) = raw.filter(|v| !v.trim().is_empty()) else {
        return Ok(default_ms);
    };
    match parse_ms_expression(raw) {
        Ok(v) if v > 0 && v <= MAX_DURATION_MS => Ok(v),
        Ok(_) => Err(ConfigError::invalid(
            name,
            raw,
            "a positive number of milliseconds, at most 100 years",
        )),
        Err(why) => Err(ConfigError::invalid(
            name,
            raw,
            &format!("milliseconds as an integer expression such as `1000 * 60 * 15` ({why})"),
        )),
    }
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
