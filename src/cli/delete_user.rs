//! `bouncer delete-user`: removes a user and everything that lets them in.

use super::{fail, found, prompt, CliResult};
use crate::app::AppContext;
use crate::usecases::operator;

#[derive(clap::Args)]
#[command(
    after_help = "Revokes and deletes every session of the user, then the user. A running server refuses \
their refresh token at once and their access tokens within a few seconds.\n\n\
Examples:\n  \
bouncer delete-user ada@example.com\n  \
bouncer delete-user ada@example.com --yes"
)]
pub struct Args {
    /// Email of the user to delete (asked for when missing at a terminal).
    email: Option<String>,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let interactive = prompt::interactive();
    let email = match args.email {
        Some(e) => e,
        None if interactive => prompt::ask("Email of the user to delete", None)?,
        None => return fail("missing email: give it as an argument"),
    };
    let Some(user) = found(operator::find_user(ctx, &email).await)? else {
        return fail(format!("no user with email {}", email.trim()));
    };
    if !args.yes {
        if !interactive {
            return fail("refusing to delete without --yes: stdin is not a terminal to confirm at");
        }
        let question = format!(
            "Delete user {} (id {}) and ALL their sessions?",
            user.email, user.id
        );
        if !prompt::confirm(&question)? {
            return fail("not deleted");
        }
    }
    let sessions = operator::delete_user(ctx, &user).await?;
    println!(
        "Deleted user {} (id {}): {} session{} revoked",
        user.email,
        user.id,
        sessions,
        if sessions == 1 { "" } else { "s" }
    );
    Ok(())
}
