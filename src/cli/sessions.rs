//! `bouncer sessions`: a user's live sessions, and ending one or all of them.

use super::{fail, found, print_table, CliResult};
use crate::accounts::iso_time;
use crate::app::AppContext;
use crate::error::Error;
use crate::usecases::admin::{self, Actor};
use crate::usecases::operator;

#[derive(clap::Args)]
#[command(
    after_help = "A running server refuses a revoked session's tokens within a second.\n\n\
Examples:\n  \
bouncer sessions ada@example.com\n  \
bouncer sessions ada@example.com --revoke 65f0c0ffee0123456789abcd\n  \
bouncer sessions ada@example.com --all"
)]
pub struct Args {
    /// Email of the user.
    email: String,
    /// End the session with this id.
    #[arg(long, value_name = "ID", conflicts_with = "all")]
    revoke: Option<String>,
    /// End every session of the user.
    #[arg(long)]
    all: bool,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let Some(user) = found(operator::find_user(ctx, &args.email).await)? else {
        return fail(format!("no user with email {}", args.email.trim()));
    };
    if args.all {
        let n = admin::sign_out_everywhere(ctx, &Actor::Cli, &user.id).await?;
        println!(
            "Revoked {n} session{} of {}",
            if n == 1 { "" } else { "s" },
            user.email
        );
        return Ok(());
    }
    if let Some(id) = args.revoke {
        return match admin::revoke_session(ctx, &Actor::Cli, &user.id, id.trim()).await {
            Ok(()) => {
                println!("Revoked session {} of {}", id.trim(), user.email);
                Ok(())
            }
            Err(Error::NotFound(_)) => {
                fail(format!("{} has no live session {}", user.email, id.trim()))
            }
            Err(e) => Err(e.into()),
        };
    }
    let sessions = admin::list_sessions(ctx, &Actor::Cli, &user.id).await?;
    if sessions.is_empty() {
        println!("{} has no live session", user.email);
        return Ok(());
    }
    let rows: Vec<[String; 6]> = sessions
        .iter()
        .map(|s| {
            [
                s.id.clone(),
                s.kind.clone(),
                s.ip.clone().unwrap_or_default(),
                iso_time(s.created_at),
                s.last_used_at.map(iso_time).unwrap_or_default(),
                s.user_agent.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &["ID", "KIND", "IP", "STARTED", "LAST USED", "DEVICE"],
        &rows,
    );
    Ok(())
}
