//! `bouncer unban`: lifts the ban of a user (by email), or the IP bans that cover an address or
//! a network. An IPv6 client is banned as its prefix (`IPV6_PREFIX_LENGTH`), so naming any
//! address of it lifts the prefix's ban.

use super::{fail, found, CliResult};
use crate::app::AppContext;
use crate::moderation::ip_prefix::{parse_subject, subject_text};
use crate::usecases::operator;

#[derive(clap::Args)]
#[command(
    after_help = "A running server lets the user or IP back in within a few seconds. An IPv6 ban \
covers a whole prefix (IPV6_PREFIX_LENGTH, /64 by default); any address in it, or the prefix in \
CIDR form as `list-bans` shows it, lifts it.\n\n\
Examples:\n  \
bouncer unban spammer@example.com\n  \
bouncer unban 203.0.113.7\n  \
bouncer unban 2001:db8:1:2::5\n  \
bouncer unban 2001:db8:1:2::/64"
)]
pub struct Args {
    /// The banned user's email, or the banned IP address or network (CIDR).
    target: String,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let target = args.target.trim();
    if target.contains('@') {
        let Some(user) = found(operator::find_user(ctx, target).await)? else {
            return fail(format!("no user with email {target}"));
        };
        if !operator::unban_user(ctx, &user).await? {
            return fail(format!("{} is not banned", user.email));
        }
        println!("Lifted the ban of {}", user.email);
        return Ok(());
    }
    let Some(net) = parse_subject(target) else {
        return fail(format!(
            "{target:?} is neither an email nor an IP address or network (such as 2001:db8::/64)"
        ));
    };
    let lifted = operator::unban_ip(ctx, net).await?;
    if lifted.is_empty() {
        return fail(format!("{} is not banned", subject_text(net)));
    }
    for subject in lifted {
        println!("Lifted the ban of {subject}");
    }
    Ok(())
}
