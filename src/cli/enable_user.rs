//! `bouncer enable-user`: lets a disabled user sign in again.

use super::{fail, found, CliResult};
use crate::app::AppContext;
use crate::usecases::admin::{self, Actor};
use crate::usecases::operator;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  bouncer enable-user mallory@example.com")]
pub struct Args {
    /// Email of the user to enable.
    email: String,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let Some(user) = found(operator::find_user(ctx, &args.email).await)? else {
        return fail(format!("no user with email {}", args.email.trim()));
    };
    if user.disabled_at.is_none() {
        println!("{} is not disabled", user.email);
        return Ok(());
    }
    admin::enable(ctx, &Actor::Cli, &user.id).await?;
    println!("Enabled user {} (id {})", user.email, user.id);
    Ok(())
}
