//! `bouncer export`: every user, with their identities and 2FA, as LibreChat's `users`
//! documents in relaxed Extended JSON, one a line (`usecases::migration::export_documents`):
//! what `bouncer import-librechat` restores, and what `mongoimport` loads into LibreChat.

use std::io::Write;

use super::{fail, CliResult};
use crate::app::AppContext;
use crate::usecases::migration;

#[derive(clap::Args)]
#[command(
    after_help = "The file holds every user's password hash and 2FA secret (encrypted with CREDS_KEY, in \
LibreChat's v3 format) and backup-code hashes: keep it as you keep the database (a file is written with mode \
0600). Restore it with `bouncer import-librechat FILE` (with the same CREDS_KEY), or load it into LibreChat's \
MongoDB with `mongoimport --db LibreChat --collection users --file FILE`.\n\n\
Examples:\n  \
bouncer export users.json\n  \
bouncer export - | gzip > users.json.gz"
)]
pub struct Args {
    /// Where to write; `-` (the default) for standard output.
    #[arg(default_value = "-")]
    file: String,
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let documents = migration::export_documents(ctx).await?;
    let mut out = String::with_capacity(documents.len() * 512);
    for doc in &documents {
        out.push_str(&doc.to_string());
        out.push('\n');
    }
    let written = if args.file == "-" {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
    } else {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&args.file)
            .and_then(|mut f| f.write_all(out.as_bytes()).and_then(|()| f.sync_all()))
    };
    if let Err(e) = written {
        return fail(format!("cannot write {}: {e}", args.file));
    }
    eprintln!(
        "Exported {} user{} to {} (it holds password hashes and 2FA secrets: keep it safe)",
        documents.len(),
        if documents.len() == 1 { "" } else { "s" },
        if args.file == "-" {
            "standard output"
        } else {
            &args.file
        }
    );
    Ok(())
}
