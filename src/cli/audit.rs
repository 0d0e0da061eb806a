//! `bouncer audit export`: the audit log's events as JSON lines on standard output, newest
//! first, in the admin API's form.

use std::io::Write;

use super::{fail, CliResult};
use crate::app::AppContext;
use crate::usecases::audit::{self, FilterText, LIMIT_MAX};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(clap::Subcommand)]
enum AuditCommand {
    /// Write the matching events as JSON lines, newest first.
    #[command(after_help = "Examples:\n  \
bouncer audit export > audit.jsonl\n  \
bouncer audit export --user ada@example.com --kind sign_in.failed,ban.created\n  \
bouncer audit export --since 2026-12-01T00:00:00Z --until 2026-12-02T00:00:00Z")]
    Export(ExportArgs),
}

#[derive(clap::Args)]
struct ExportArgs {
    /// Only events about this user (an email or an id).
    #[arg(long)]
    user: Option<String>,
    /// Only these kinds, separated by commas (e.g. sign_in.failed,ban.created).
    #[arg(long)]
    kind: Option<String>,
    /// From this time on: RFC 3339, or ms since the epoch.
    #[arg(long)]
    since: Option<String>,
    /// Before this time: RFC 3339, or ms since the epoch.
    #[arg(long)]
    until: Option<String>,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let AuditCommand::Export(args) = args.command;
    let text = FilterText {
        user: args.user.as_deref(),
        kind: args.kind.as_deref(),
        since: args.since.as_deref(),
        until: args.until.as_deref(),
        ..FilterText::default()
    };
    let mut q = audit::query_from_text(ctx, &text).await?;
    q.limit = LIMIT_MAX;
    let mut stdout = std::io::stdout().lock();
    // A page at a time: memory holds one page whatever the log's size.
    loop {
        let page = audit::list_as_operator(ctx, &q).await?;
        for event in &page.events {
            let line = serde_json::to_string(event).unwrap_or_default();
            if let Err(e) = writeln!(stdout, "{line}") {
                return fail(format!("cannot write: {e}"));
            }
        }
        match page.next.as_deref() {
            Some(next) => q.before_id = Some(audit::parse_cursor(next)?),
            None => break,
        }
    }
    if let Err(e) = stdout.flush() {
        return fail(format!("cannot write: {e}"));
    }
    Ok(())
}
