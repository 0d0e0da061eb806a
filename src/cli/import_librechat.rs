//! `bouncer import-librechat`: reads LibreChat's `users` collection as mongoexport writes it
//! and imports every user (`usecases::migration::import_librechat`); this file reads the input,
//! shows progress and reports.

use std::io::{IsTerminal, Read};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::{fail, CliResult};
use crate::app::AppContext;
use crate::usecases::migration::{self, ImportEvent, ImportMode, ImportReport, Interrupted};

#[derive(clap::Args)]
#[command(
    after_help = "Produce the file from LibreChat's MongoDB (relaxed or canonical Extended JSON, one document \
a line or --jsonArray):\n  mongoexport --uri \"$MONGO_URI\" --db LibreChat --collection users --out users.json\n\n\
Run it with LibreChat's CREDS_KEY (its 2FA secrets are encrypted with it) and, if LibreChat signs in through \
OpenID, its OPENID_ISSUER. Each user keeps their id, password (a bcrypt hash, upgraded to argon2id at the \
next sign-in), 2FA, backup codes and provider accounts. Running it again skips the users already there \
(--update overwrites them). Every rejected document is reported with its line and reason and the others \
are imported; one transaction per batch, so an interruption leaves whole users only. Exit status: 0 when \
the file was read, 1 when it could not be, held no document, or the database failed (or with --strict, \
when any document was rejected).\n\n\
Examples:\n  \
bouncer import-librechat users.json --dry-run\n  \
bouncer import-librechat users.json\n  \
mongoexport --db LibreChat --collection users | bouncer import-librechat -\n  \
bouncer import-librechat backup.json --update"
)]
pub struct Args {
    /// mongoexport's output, or `-` for standard input.
    file: String,
    /// Overwrite a user whose _id exists with the document's values (else it is skipped).
    #[arg(long)]
    update: bool,
    /// Check everything against the database and report what would happen; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Exit 1 when any document was rejected (the others are imported all the same).
    #[arg(long)]
    strict: bool,
    /// Users per transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=5000))]
    batch_size: u32,
}

/// A bar with rate and ETA at a terminal; a plain line every so often otherwise.
enum Progress {
    Bar(ProgressBar),
    Lines { last: Instant, total_bytes: usize },
}

/// How often the plain progress line is printed.
const LINE_EVERY: Duration = Duration::from_secs(2);

impl Progress {
    fn new(total_bytes: usize) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total_bytes as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg} (ETA {eta})",
                )
                .expect("a valid progress template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            Progress::Bar(bar)
        } else {
            Progress::Lines {
                last: Instant::now(),
                total_bytes,
            }
        }
    }

    fn report(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.println(line),
            Progress::Lines { .. } => eprintln!("{line}"),
        }
    }

    fn advance(&mut self, offset: usize, counts: &ImportReport, started: Instant) {
        let rate = counts.documents as f64 / started.elapsed().as_secs_f64().max(0.001);
        match self {
            Progress::Bar(bar) => {
                bar.set_position(offset as u64);
                bar.set_message(format!("{} documents, {rate:.0}/s", counts.documents));
            }
            Progress::Lines { last, total_bytes } => {
                if last.elapsed() >= LINE_EVERY {
                    *last = Instant::now();
                    let percent = offset * 100 / (*total_bytes).max(1);
                    eprintln!(
                        "progress: {} documents ({percent}%), {rate:.0}/s, written {}",
                        counts.documents,
                        counts.imported + counts.updated
                    );
                }
            }
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

fn read_input(file: &str) -> CliResult<String> {
    let mut bytes = Vec::new();
    let read = if file == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    if let Err(e) = read {
        return fail(format!("cannot read {file}: {e}"));
    }
    String::from_utf8(bytes).or_else(|_| {
        fail(format!(
            "{file} is not UTF-8 text (mongoexport writes UTF-8 JSON)"
        ))
    })
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let text = read_input(&args.file)?;
    let mode = ImportMode {
        update: args.update,
        dry_run: args.dry_run,
    };
    let mut progress = Progress::new(text.len());
    let started = Instant::now();
    let outcome = migration::import_librechat(
        ctx,
        &text,
        mode,
        args.batch_size as usize,
        |event| match event {
            ImportEvent::Rejected { line, reason } => {
                progress.report(&format!("line {line}: rejected: {reason}"))
            }
            ImportEvent::Progress { offset, report } => progress.advance(offset, report, started),
        },
    )
    .await;
    progress.finish();
    let counts = match outcome {
        Ok(report) => report,
        Err(Interrupted { report, error }) => {
            return fail(format!(
                "the database failed after {} users were written in whole batches \
                 (run the same command again to go on): {}",
                report.imported + report.updated,
                super::CliError::from(error)
            ))
        }
    };

    if counts.documents == 0 {
        return fail(format!(
            "{} holds no document (expected mongoexport's output of the users collection)",
            args.file
        ));
    }
    if counts.readable == 0 {
        return fail(format!(
            "nothing in {} could be read as JSON (expected mongoexport's output of the users collection)",
            args.file
        ));
    }
    let seconds = started.elapsed().as_secs_f64();
    if args.dry_run {
        println!(
            "Dry run, nothing written: would import {}, update {}, skip {}, reject {} ({} documents, {seconds:.1} s)",
            counts.imported, counts.updated, counts.skipped, counts.rejected, counts.documents
        );
    } else {
        println!(
            "Imported {}, updated {}, skipped {}, rejected {} ({} documents, {seconds:.1} s)",
            counts.imported, counts.updated, counts.skipped, counts.rejected, counts.documents
        );
    }
    if args.strict && counts.rejected > 0 {
        return fail(format!(
            "{} document{} rejected (--strict)",
            counts.rejected,
            if counts.rejected == 1 {
                " was"
            } else {
                "s were"
            }
        ));
    }
    Ok(())
}
