//! The millisecond-expression parser of `SESSION_EXPIRY` and its siblings: never panics, never
//! overflows the stack, accepts only its own alphabet, and agrees with itself when an accepted
//! expression is wrapped in parentheses or given a `+ 0`.
#![no_main]

use bouncer::config::values::{duration_ms, parse_ms_expression, MAX_DURATION_MS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_ms_expression(input);
    let via_config = duration_ms("SESSION_EXPIRY", Some(input), 42);
    let Ok(value) = parsed else {
        // Unset and blank take the default; anything else the parser refuses is a config error.
        assert_eq!(via_config.is_ok(), input.trim().is_empty(), "{input:?}");
        return;
    };
    assert!(input.len() <= 256, "an over-long expression was accepted");
    assert!(
        input.bytes().all(|b| b" 0123456789+-*/%()".contains(&b)),
        "{input:?} was accepted with a character outside the expression alphabet"
    );
    match via_config {
        Ok(ms) => assert!(
            value > 0 && value <= MAX_DURATION_MS && ms == value,
            "{input:?}: {ms} vs {value}"
        ),
        // Durations are positive and at most 100 years (a longer one overflows `now + it`).
        Err(_) => assert!(
            value <= 0 || value > MAX_DURATION_MS,
            "{input:?} = {value} refused as a duration"
        ),
    }
    // Same value in parentheses, unless that one more level is over the depth or length limit.
    match parse_ms_expression(&format!("({input})")) {
        Ok(v) => assert_eq!(v, value, "({input})"),
        Err(why) => assert!(
            why.contains("nested too deeply") || why.contains("longer than"),
            "({input}) refused: {why}"
        ),
    }
    match parse_ms_expression(&format!("{input} + 0")) {
        Ok(v) => assert_eq!(v, value, "{input} + 0"),
        Err(why) => assert!(why.contains("longer than"), "{input} + 0 refused: {why}"),
    }
});
