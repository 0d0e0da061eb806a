//! `bouncer list-users`: every user, as a table or as JSON.

use serde_json::json;

use super::CliResult;
use crate::accounts::iso_time;
use crate::app::AppContext;
use crate::usecases::operator;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  bouncer list-users\n  bouncer list-users --json | jq '.users[].email'"
)]
pub struct Args {
    /// Print JSON: {"users": [...], "total": N}.
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let users = operator::list_users(ctx).await?;
    if args.json {
        let list: Vec<_> = users
            .iter()
            .map(|u| {
                json!({
                    "id": u.id, "email": u.email, "username": u.username, "name": u.name,
                    "provider": u.provider.as_str(), "role": u.role.as_str(), "emailVerified": u.email_verified,
                    "createdAt": iso_time(u.created_at),
                })
            })
            .collect();
        println!("{}", json!({ "users": list, "total": users.len() }));
        return Ok(());
    }
    let rows: Vec<[String; 8]> = users
        .iter()
        .map(|u| {
            [
                u.id.clone(),
                u.email.clone(),
                u.username.clone(),
                u.name.clone(),
                u.provider.to_string(),
                u.role.to_string(),
                if u.email_verified { "yes" } else { "no" }.to_string(),
                iso_time(u.created_at),
            ]
        })
        .collect();
    super::print_table(
        &[
            "ID", "EMAIL", "USERNAME", "NAME", "PROVIDER", "ROLE", "VERIFIED", "CREATED",
        ],
        &rows,
    );
    println!(
        "Total: {} user{}",
        users.len(),
        if users.len() == 1 { "" } else { "s" }
    );
    Ok(())
}
