//! `bouncer api-keys list|create|revoke`: API keys of programmatic clients of the gateway. A
//! key is printed once, by `create`; nothing can show it again.

use serde_json::json;

use super::{print_table, CliResult};
use crate::accounts::iso_time;
use crate::api_keys::scopes::Scopes;
use crate::app::AppContext;
use crate::usecases::api_keys::{self, Acting, KeyRequest};
use crate::usecases::operator;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(clap::Subcommand)]
enum KeysCommand {
    /// List the keys (of one user, given their email), newest first.
    #[command(
        after_help = "Examples:\n  bouncer api-keys list\n  bouncer api-keys list ada@example.com --json"
    )]
    List(ListArgs),
    /// Make a key for a user; prints it once.
    #[command(after_help = "Examples:\n  \
bouncer api-keys create ada@example.com --name laptop --expires-days 90\n  \
bouncer api-keys create root@example.com --name ops --scope admin")]
    Create(CreateArgs),
    /// Revoke a key by its id (the hex after `bnc_`); it is refused at once.
    Revoke(RevokeArgs),
}

#[derive(clap::Args)]
struct ListArgs {
    email: Option<String>,
    /// Print JSON: {"keys": [...], "total": N}.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct CreateArgs {
    email: String,
    #[arg(long)]
    name: String,
    /// Days until the key expires (default: never).
    #[arg(long = "expires-days")]
    expires_days: Option<i64>,
    /// `admin` also opens the admin API (the user must be an ADMIN); every key opens the gateway.
    #[arg(long = "scope")]
    scopes: Vec<String>,
}

#[derive(clap::Args)]
struct RevokeArgs {
    id: String,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    match args.command {
        KeysCommand::List(a) => list(ctx, a).await,
        KeysCommand::Create(a) => create(ctx, a).await,
        KeysCommand::Revoke(a) => revoke(ctx, a).await,
    }
}

const OPERATOR: Acting<'static> = Acting {
    actor_id: None,
    client: None,
};

async fn list(ctx: &AppContext, args: ListArgs) -> CliResult {
    let user_id = match &args.email {
        Some(email) => Some(operator::find_user(ctx, email).await?.id),
        None => None,
    };
    let keys = api_keys::list(ctx, user_id.as_deref()).await?;
    let when = |t: Option<i64>| t.map(iso_time);
    if args.json {
        let list: Vec<_> = keys
            .iter()
            .map(|k| {
                json!({
                    "id": k.id, "prefix": k.prefix, "name": k.name, "email": k.email,
                    "scopes": Scopes::from_json(&k.scopes).names(),
                    "createdAt": iso_time(k.created_at), "expiresAt": when(k.expires_at),
                    "lastUsedAt": when(k.last_used_at), "revokedAt": when(k.revoked_at),
                })
            })
            .collect();
        println!("{}", json!({ "keys": list, "total": keys.len() }));
        return Ok(());
    }
    let dash = |t: Option<i64>| t.map_or_else(|| "-".to_string(), iso_time);
    let table: Vec<[String; 7]> = keys
        .iter()
        .map(|k| {
            [
                k.id.clone(),
                k.email.clone(),
                k.name.clone(),
                Scopes::from_json(&k.scopes).names().join(","),
                dash(k.expires_at),
                dash(k.last_used_at),
                k.revoked_at
                    .map_or_else(|| "live".into(), |_| "revoked".into()),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "USER",
            "NAME",
            "SCOPES",
            "EXPIRES",
            "LAST USED",
            "STATE",
        ],
        &table,
    );
    Ok(())
}

async fn create(ctx: &AppContext, args: CreateArgs) -> CliResult {
    let owner = operator::find_user(ctx, &args.email).await?;
    let request = KeyRequest {
        name: Some(args.name),
        expires_in_days: args.expires_days,
        scopes: (!args.scopes.is_empty()).then_some(args.scopes),
    };
    let created = api_keys::create(ctx, &owner.id, request, OPERATOR).await?;
    eprintln!(
        "API key {} for {} (shown once; keep it secret):",
        created.listed.id, owner.email
    );
    println!("{}", created.key);
    Ok(())
}

async fn revoke(ctx: &AppContext, args: RevokeArgs) -> CliResult {
    let revoked = api_keys::revoke(ctx, &args.id, None, OPERATOR).await?;
    println!("Revoked API key {} of {}", revoked.id, revoked.email);
    Ok(())
}
