//! `bouncer unban`: lifts the ban of a user (by email) or of an IP address.

use std::net::IpAddr;

use super::{fail, CliResult};
use crate::app::AppContext;
use crate::moderation::bans::BanKind;
use crate::moderation::client_ip::normalize;

#[derive(clap::Args)]
#[command(
    after_help = "A running server lets the user or IP back in within a few seconds.\n\n\
Examples:\n  \
bouncer unban spammer@example.com\n  \
bouncer unban 203.0.113.7"
)]
pub struct Args {
    /// The banned user's email, or the banned IP address.
    target: String,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let target = args.target.trim();
    let (kind, subject, shown) = if target.contains('@') {
        let Some(user) = ctx.accounts.find_by_email(target).await? else {
            return fail(format!("no user with email {target}"));
        };
        (BanKind::User, user.id, user.email)
    } else {
        let Ok(ip) = target.parse::<IpAddr>() else {
            return fail(format!("{target:?} is neither an email nor an IP address"));
        };
        let ip = normalize(ip).to_string();
        (BanKind::Ip, ip.clone(), ip)
    };
    if !ctx.moderation.unban(kind, &subject).await? {
        return fail(format!("{shown} is not banned"));
    }
    println!("Lifted the ban of {shown}");
    Ok(())
}
