//! `bouncer ban-user`: bans a user for a while, ending their sessions at once.

use super::{fail, found, CliResult};
use crate::accounts::iso_time;
use crate::app::AppContext;
use crate::config::values::MAX_DURATION_MS;
use crate::usecases::operator;

#[derive(clap::Args)]
#[command(
    after_help = "The user's sessions end at once; a running server refuses the user within a few seconds. \
Lift the ban with `bouncer unban <email>`.\n\n\
Examples:\n  \
bouncer ban-user spammer@example.com 2h\n  \
bouncer ban-user spammer@example.com 90m\n  \
bouncer ban-user spammer@example.com 7200000"
)]
pub struct Args {
    /// Email of the user to ban.
    email: String,
    /// How long: `30s`, `90m`, `2h`, `1d`, or plain milliseconds.
    duration: String,
}

/// Parses `30s`, `90m`, `2h`, `1d` or plain milliseconds into milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let expected = || {
        format!("{text:?} is not a duration; use e.g. 30s, 90m, 2h, 1d or milliseconds (at most 100 years)")
    };
    let (digits, unit_ms) = match text.char_indices().last() {
        Some((i, 's')) => (&text[..i], 1_000),
        Some((i, 'm')) => (&text[..i], 60_000),
        Some((i, 'h')) => (&text[..i], 3_600_000),
        Some((i, 'd')) => (&text[..i], 86_400_000),
        _ => (text, 1),
    };
    let n: i64 = digits.parse().map_err(|_| expected())?;
    // The ban ends at now + the duration: past a century that sum may overflow.
    match n.checked_mul(unit_ms) {
        Some(ms) if ms > 0 && ms <= MAX_DURATION_MS => Ok(ms),
        _ => Err(expected()),
    }
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let duration_ms = parse_duration(&args.duration).or_else(fail)?;
    let Some(user) = found(operator::find_user(ctx, &args.email).await)? else {
        return fail(format!("no user with email {}", args.email.trim()));
    };
    let until = operator::ban_user(ctx, &user, duration_ms).await?;
    println!(
        "Banned user {} (id {}) until {}; their sessions are revoked",
        user.email,
        user.id,
        iso_time(until)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30_000));
        assert_eq!(parse_duration("90m"), Ok(5_400_000));
        assert_eq!(parse_duration("2h"), Ok(7_200_000));
        assert_eq!(parse_duration("1d"), Ok(86_400_000));
        assert_eq!(parse_duration("7200000"), Ok(7_200_000));
        for bad in [
            "",
            "0",
            "0h",
            "-5m",
            "2 hours",
            "h",
            "1.5h",
            "99999999999999999999d",
            "9223372036854775807",
            "106752d",
            "36501d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
