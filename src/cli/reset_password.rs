//! `bouncer reset-password`: sets a user's password under the password rules and signs them
//! out everywhere (LibreChat's script leaves their sessions alive).

use super::{fail, found, prompt, CliResult};
use crate::app::AppContext;
use crate::usecases::operator;

#[derive(clap::Args)]
#[command(
    after_help = "The new password is asked for twice, hidden, unless --password-stdin is given. Every \
session of the user ends.\n\n\
Examples:\n  \
bouncer reset-password ada@example.com\n  \
echo 'a new long passphrase' | bouncer reset-password ada@example.com --password-stdin"
)]
pub struct Args {
    /// Email of the user (asked for when missing at a terminal).
    email: Option<String>,
    /// Read the new password from the first line of stdin.
    #[arg(long)]
    password_stdin: bool,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let interactive = prompt::interactive() && !args.password_stdin;
    let email = match args.email {
        Some(e) => e,
        None if interactive => prompt::ask("Email", None)?,
        None => return fail("missing email: give it as an argument"),
    };
    let Some(user) = found(operator::find_user(ctx, &email).await)? else {
        return fail(format!("no user with email {}", email.trim()));
    };
    let password = if args.password_stdin {
        prompt::password_from_stdin()?
    } else if interactive {
        prompt::new_password("")?
    } else {
        return fail("missing password: use --password-stdin, or run at a terminal");
    };
    let sessions = operator::set_password(ctx, &user, &password).await?;
    println!(
        "Password reset for {}; {} session{} revoked",
        user.email,
        sessions,
        if sessions == 1 { "" } else { "s" }
    );
    Ok(())
}
