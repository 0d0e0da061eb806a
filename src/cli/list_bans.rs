//! `bouncer list-bans`: the bans in force: who or which IP, why, the score, until when.

use serde_json::json;

use super::CliResult;
use crate::accounts::iso_time;
use crate::app::AppContext;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  bouncer list-bans\n  bouncer list-bans --json")]
pub struct Args {
    /// Print JSON: {"bans": [...], "total": N}.
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let bans = ctx.moderation.active_bans().await?;
    let mut rows = Vec::with_capacity(bans.len());
    for ban in &bans {
        // User bans show the email when the user still exists.
        let who = if ban.kind == "user" {
            match ctx.accounts.user(&ban.subject).await? {
                Some(u) => u.email.clone(),
                None => ban.subject.clone(),
            }
        } else {
            ban.subject.clone()
        };
        rows.push((ban, who));
    }
    if args.json {
        let list: Vec<_> = rows
            .iter()
            .map(|(b, who)| {
                json!({
                    "kind": b.kind, "subject": b.subject, "who": who, "userId": b.user_id,
                    "type": b.violation_type, "score": b.score,
                    "since": iso_time(b.created_at), "until": iso_time(b.expires_at),
                })
            })
            .collect();
        println!("{}", json!({ "bans": list, "total": rows.len() }));
        return Ok(());
    }
    let table: Vec<[String; 5]> = rows
        .iter()
        .map(|(b, who)| {
            [
                b.kind.clone(),
                who.clone(),
                b.violation_type.clone(),
                b.score.to_string(),
                iso_time(b.expires_at),
            ]
        })
        .collect();
    super::print_table(&["KIND", "WHO", "TYPE", "SCORE", "UNTIL"], &table);
    println!(
        "Total: {} ban{}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    Ok(())
}
