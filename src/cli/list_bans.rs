//! `bouncer list-bans`: the bans in force: who or which IP, why, the score, until when.

use serde_json::json;

use super::CliResult;
use crate::accounts::iso_time;
use crate::app::AppContext;
use crate::usecases::operator;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  bouncer list-bans\n  bouncer list-bans --json")]
pub struct Args {
    /// Print JSON: {"bans": [...], "total": N}.
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let rows = operator::list_bans(ctx).await?;
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
