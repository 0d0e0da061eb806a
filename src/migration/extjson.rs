//! MongoDB Extended JSON v2, the part a `users` collection uses, in both of mongoexport's modes:
//! relaxed (`{"$date": "2024-05-01T10:00:00.000Z"}`, plain numbers) and canonical
//! (`{"$date": {"$numberLong": "1714557600000"}}`, `{"$numberInt": "3"}`); `{"$oid": "…"}` in
//! both. Also the input's framing: one document per line (mongoexport's default) or a JSON
//! array (`--jsonArray`, pretty or not), each document with the line it starts on.

use serde_json::{json, Value};

/// One document of the input, or why it could not be read, with the line it starts on.
pub struct Framed {
    pub line: usize,
    pub document: Result<Value, String>,
    /// Bytes of the input read so far (for progress).
    pub offset: usize,
}

/// The documents of `text`: a JSON array of documents, or documents one after the other
/// (one a line, or pretty-printed). A document that is not JSON is reported and reading goes
/// on at the next line; in an array, the rest of the array cannot be framed and is reported
/// as one failure.
pub struct Documents<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    array: bool,
    done: bool,
}

impl<'a> Documents<'a> {
    pub fn new(text: &'a str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut docs = Self {
            text,
            pos: 0,
            line: 1,
            array: false,
            done: false,
        };
        docs.skip_blank();
        if docs.rest().starts_with('[') {
            docs.array = true;
            docs.advance(1);
        }
        docs
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn advance(&mut self, bytes: usize) {
        let taken = &self.text[self.pos..self.pos + bytes];
        self.line += taken.bytes().filter(|b| *b == b'\n').count();
        self.pos += bytes;
    }

    fn skip_blank(&mut self) {
        let rest = self.rest();
        let blank = rest.len() - rest.trim_start().len();
        self.advance(blank);
    }

    /// To the start of the next line (or the end).
    fn skip_line(&mut self) {
        let rest = self.rest();
        let n = rest.find('\n').map_or(rest.len(), |i| i + 1);
        self.advance(n);
    }
}

impl Iterator for Documents<'_> {
    type Item = Framed;

    fn next(&mut self) -> Option<Framed> {
        if self.done {
            return None;
        }
        self.skip_blank();
        if self.array {
            if self.rest().starts_with(',') {
                self.advance(1);
                self.skip_blank();
            }
            if self.rest().starts_with(']') {
                self.advance(1);
                self.skip_blank();
                self.done = true;
                if !self.rest().is_empty() {
                    return Some(Framed {
                        line: self.line,
                        document: Err("text after the end of the JSON array".into()),
                        offset: self.text.len(),
                    });
                }
                return None;
            }
        }
        if self.rest().is_empty() {
            self.done = true;
            if self.array {
                return Some(Framed {
                    line: self.line,
                    document: Err("the JSON array is not closed".into()),
                    offset: self.pos,
                });
            }
            return None;
        }
        let line = self.line;
        let mut stream = serde_json::Deserializer::from_str(self.rest()).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                let used = stream.byte_offset();
                self.advance(used);
                Some(Framed {
                    line,
                    document: Ok(value),
                    offset: self.pos,
                })
            }
            Some(Err(e)) => {
                let message = format!("not valid JSON: {e}");
                if self.array {
                    // No way to know where the next element starts.
                    self.done = true;
                    self.pos = self.text.len();
                } else {
                    self.skip_line();
                }
                Some(Framed {
                    line,
                    document: Err(message),
                    offset: self.pos,
                })
            }
            None => {
                self.done = true;
                None
            }
        }
    }
}

/// A 24-hex ObjectId: `{"$oid": "…"}` or the bare string; lower-cased.
pub fn object_id(v: &Value) -> Option<String> {
    let s = match v {
        Value::Object(o) => o.get("$oid")?.as_str()?,
        Value::String(s) => s,
        _ => return None,
    };
    (s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// A whole number: a JSON number, or `{"$numberInt"|"$numberLong"|"$numberDouble": "…"}`.
pub fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::Object(o) => {
            if let Some(s) = o
                .get("$numberInt")
                .or_else(|| o.get("$numberLong"))
                .and_then(Value::as_str)
            {
                return s.parse().ok();
            }
            let f: f64 = o.get("$numberDouble")?.as_str()?.parse().ok()?;
            (f.fract() == 0.0 && f.is_finite()).then_some(f as i64)
        }
        _ => None,
    }
}

/// A value that should have been an Extended JSON date and is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotADate;

/// A date as milliseconds since the epoch: `{"$date": "ISO-8601"}` (relaxed),
/// `{"$date": {"$numberLong": "ms"}}` (canonical), or `{"$date": ms}` (older mongoexport).
/// `Ok(None)` for an absent or null value; `Err` for anything else.
pub fn date(v: Option<&Value>) -> Result<Option<i64>, NotADate> {
    let v = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let inner = v.as_object().and_then(|o| o.get("$date")).ok_or(NotADate)?;
    match inner {
        Value::String(s) => iso_ms(s).map(Some).ok_or(NotADate),
        other => integer(other).map(Some).ok_or(NotADate),
    }
}

/// Relaxed Extended JSON's form of a date: ISO-8601 in UTC with milliseconds for years 1970
/// to 9999, the canonical `$numberLong` otherwise (as the specification says).
pub fn date_value(ms: i64) -> Value {
    const YEAR_10000_MS: i64 = 253_402_300_800_000;
    if (0..YEAR_10000_MS).contains(&ms) {
        json!({ "$date": crate::accounts::iso_time(ms) })
    } else {
        json!({ "$date": { "$numberLong": ms.to_string() } })
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)` to milliseconds since the epoch.
fn iso_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &s[start..i.min(start + 3)];
        millis = format!("{digits:0<3}").parse().ok()?;
    }
    let offset_minutes = match &s[i..] {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && tz.as_bytes()[3] == b':' => {
            signed_offset(tz.as_bytes()[0], num(i + 1, 2)?, num(i + 4, 2)?)?
        }
        tz if tz.len() == 5 => signed_offset(tz.as_bytes()[0], num(i + 1, 2)?, num(i + 3, 2)?)?,
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

fn signed_offset(sign: u8, hours: i64, minutes: i64) -> Option<i64> {
    let total = hours * 60 + minutes;
    match sign {
        b'+' => Some(total),
        b'-' => Some(-total),
        _ => None,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_both_modes_and_back() {
        let relaxed = json!({"$date": "2024-05-01T10:00:00.123Z"});
        let canonical = json!({"$date": {"$numberLong": "1714557600123"}});
        assert_eq!(date(Some(&relaxed)), Ok(Some(1_714_557_600_123)));
        assert_eq!(date(Some(&canonical)), Ok(Some(1_714_557_600_123)));
        assert_eq!(
            date(Some(&json!({"$date": 1_714_557_600_123i64}))),
            Ok(Some(1_714_557_600_123))
        );
        assert_eq!(
            date(Some(&json!({"$date": "2024-05-01T12:00:00.123+02:00"}))),
            Ok(Some(1_714_557_600_123))
        );
        assert_eq!(
            date(Some(&json!({"$date": "2024-05-01T10:00:00Z"}))),
            Ok(Some(1_714_557_600_000))
        );
        assert_eq!(
            date(Some(&json!({"$date": "1969-12-31T23:59:59.999Z"}))),
            Ok(Some(-1))
        );
        assert_eq!(date(None), Ok(None));
        assert_eq!(date(Some(&Value::Null)), Ok(None));
        assert_eq!(date(Some(&json!("2024-05-01"))), Err(NotADate));
        assert_eq!(date(Some(&json!({"$date": "yesterday"}))), Err(NotADate));
        assert_eq!(date_value(1_714_557_600_123), relaxed);
        assert_eq!(date_value(-1), json!({"$date": {"$numberLong": "-1"}}));
    }

    #[test]
    fn ids_and_numbers() {
        assert_eq!(
            object_id(&json!({"$oid": "65A1B2C3D4E5F60718293A4B"})).as_deref(),
            Some("65a1b2c3d4e5f60718293a4b")
        );
        assert_eq!(object_id(&json!({"$oid": "65a1"})), None);
        assert_eq!(
            object_id(&json!({"$oid": "zz a1b2c3d4e5f60718293a4b"})),
            None
        );
        assert_eq!(integer(&json!({"$numberInt": "3"})), Some(3));
        assert_eq!(integer(&json!({"$numberLong": "-9"})), Some(-9));
        assert_eq!(integer(&json!(7)), Some(7));
        assert_eq!(integer(&json!("7")), None);
    }

    #[test]
    fn lines_arrays_and_broken_documents() {
        let lines: Vec<_> = Documents::new("{\"a\":1}\n\n{broken\n{\"a\":2}\n")
            .map(|f| (f.line, f.document.map(|d| d["a"].clone())))
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], (1, Ok(json!(1))));
        assert_eq!(lines[1].0, 3);
        assert!(lines[1].1.is_err());
        assert_eq!(lines[2], (4, Ok(json!(2))));

        let array: Vec<_> = Documents::new("[\n{\"a\":1},\n  {\"a\":\n2}\n]\n")
            .map(|f| (f.line, f.document.unwrap()["a"].clone()))
            .collect();
        assert_eq!(array, vec![(2, json!(1)), (3, json!(2))]);
        assert_eq!(Documents::new("[]").count(), 0);
        assert_eq!(Documents::new("").count(), 0);
        let unclosed: Vec<_> = Documents::new("[{\"a\":1}").collect();
        assert_eq!(unclosed.len(), 2);
        assert!(unclosed[1].document.is_err());
    }
}
