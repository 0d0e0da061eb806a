//! `bouncer invite-user`: invites an email to register, even with registration closed. The
//! invitation works once, for that email only, for 7 days.

use super::{fail, CliResult};
use crate::app::AppContext;
use crate::usecases::notices::Invitation;
use crate::usecases::operator;

#[derive(clap::Args)]
#[command(
    after_help = "With mail configured, the invitation is emailed; without, its link is printed for you to pass on.\n\
Inviting the same email again replaces the earlier invitation.\n\n\
Example:\n  bouncer invite-user ada@example.com"
)]
pub struct Args {
    /// Email address to invite.
    email: String,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    match operator::invite(ctx, args.email.trim()).await {
        Ok(Invitation::Sent) => {
            println!("Invitation sent to {}", args.email.trim().to_lowercase());
            Ok(())
        }
        Ok(Invitation::Link(link)) => {
            println!("No mail transport is configured; send this invitation link yourself (valid 7 days, once):");
            println!("{link}");
            Ok(())
        }
        Err(crate::error::Error::Internal(e)) => fail(format!(
            "the invitation could not be emailed ({e:#}); fix the mail settings and run the command again"
        )),
        Err(e) => Err(e.into()),
    }
}
