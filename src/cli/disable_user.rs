//! `bouncer disable-user`: no sign-in by any route until enabled again; every session ends.

use super::{fail, found, CliResult};
use crate::app::AppContext;
use crate::usecases::admin::{self, Actor};
use crate::usecases::operator;

#[derive(clap::Args)]
#[command(
    after_help = "The user's sessions end at once; a running server refuses their tokens within a second. \
The last enabled ADMIN cannot be disabled. Undo with `bouncer enable-user <email>`.\n\n\
Example:\n  \
bouncer disable-user mallory@example.com"
)]
pub struct Args {
    /// Email of the user to disable.
    email: String,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let Some(user) = found(operator::find_user(ctx, &args.email).await)? else {
        return fail(format!("no user with email {}", args.email.trim()));
    };
    if user.disabled_at.is_some() {
        println!("{} is already disabled", user.email);
        return Ok(());
    }
    admin::disable(ctx, &Actor::Cli, &user.id).await?;
    println!(
        "Disabled user {} (id {}); their sessions are revoked",
        user.email, user.id
    );
    Ok(())
}
