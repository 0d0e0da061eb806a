//! `bouncer rotate-signing-key`: a new key signs the OpenID provider's tokens; the old ones
//! stay published until the tokens they signed have expired.

use super::CliResult;
use crate::app::AppContext;
use crate::provider::keys;

#[derive(clap::Args)]
#[command(
    after_help = "The new key is published at once and signs 60 seconds later, when every \
running server (they re-read the keys every 30 seconds) knows it. Tokens signed with \
the old key keep verifying until they expire (SESSION_EXPIRY).\n\n\
Example:\n  bouncer rotate-signing-key"
)]
pub struct Args {}

pub async fn run(ctx: &AppContext, _args: Args) -> CliResult {
    let kid = keys::rotate(
        &ctx.db,
        ctx.config.creds_key.0,
        ctx.config.provider.signing_alg,
        ctx.clock.now_ms(),
    )
    .await?;
    let minutes = ctx.config.sessions.session_expiry_ms / 60_000;
    println!(
        "New signing key {kid} ({})",
        ctx.config.provider.signing_alg.as_str()
    );
    println!(
        "The previous key signs for one more minute, then stays published for {minutes} \
         minute(s), until its tokens have expired."
    );
    Ok(())
}
