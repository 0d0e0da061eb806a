//! Moving users in and out (`bouncer import-librechat`, `bouncer export`): batches of whole
//! users written all or nothing, and every user read back as a LibreChat document.

use serde_json::Value;

use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::migration::extjson::Documents;
use crate::migration::{librechat, Importer};
use crate::store;
use crate::store::migration::{UserRecord, Written};
use crate::twofactor::cipher::SecretCipher;

/// How an import treats users that exist.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportMode {
    /// Overwrite a user whose id exists (else it is skipped).
    pub update: bool,
    /// Decide everything, write nothing.
    pub dry_run: bool,
}

/// What an import tells as it goes.
pub enum ImportEvent<'a> {
    /// A document that is not imported: the line it starts on, and why.
    Rejected { line: usize, reason: &'a str },
    /// After each document: bytes of the input read, the report so far.
    Progress {
        offset: usize,
        report: &'a ImportReport,
    },
}

/// What an import did (or, with `dry_run`, would do).
#[derive(Debug, Default, Clone)]
pub struct ImportReport {
    pub documents: usize,
    /// Documents that were JSON at all.
    pub readable: usize,
    pub imported: usize,
    pub updated: usize,
    pub skipped: usize,
    pub rejected: usize,
}

/// An import stopped by the database: what was written before (whole batches), and why.
pub struct Interrupted {
    pub report: ImportReport,
    pub error: Error,
}

/// Imports LibreChat's users collection as mongoexport writes it (`text`): each document read
/// and checked (`migration::Importer`: also against the documents before it), then written in
/// batches of `batch_size` whole users, one transaction each ([`import_batch`]).
pub async fn import_librechat(
    ctx: &AppContext,
    text: &str,
    mode: ImportMode,
    batch_size: usize,
    mut on: impl FnMut(ImportEvent<'_>),
) -> std::result::Result<ImportReport, Interrupted> {
    let mut importer = Importer::new(
        ctx.config.creds_key.0,
        ctx.config.openid.as_ref().map(|o| o.issuer.clone()),
        ctx.clock.now_ms(),
    );
    let mut report = ImportReport::default();
    let mut batch: Vec<(usize, UserRecord)> = Vec::with_capacity(batch_size);
    let mut documents = Documents::new(text).peekable();
    while let Some(framed) = documents.next() {
        report.documents += 1;
        let read = framed.document.and_then(|doc| {
            report.readable += 1;
            importer.read(framed.line, &doc)
        });
        match read {
            Ok(record) => batch.push((framed.line, record)),
            Err(reason) => {
                report.rejected += 1;
                on(ImportEvent::Rejected {
                    line: framed.line,
                    reason: &reason,
                });
            }
        }
        let last = documents.peek().is_none();
        if batch.len() >= batch_size || (last && !batch.is_empty()) {
            let records: Vec<UserRecord> = batch.iter().map(|(_, r)| r.clone()).collect();
            let outcomes = match import_batch(ctx, &records, mode).await {
                Ok(outcomes) => outcomes,
                Err(error) => return Err(Interrupted { report, error }),
            };
            for ((line, _), outcome) in batch.iter().zip(outcomes) {
                match outcome {
                    Written::Inserted => report.imported += 1,
                    Written::Updated => report.updated += 1,
                    Written::Skipped => report.skipped += 1,
                    Written::Refused(reason) => {
                        report.rejected += 1;
                        on(ImportEvent::Rejected {
                            line: *line,
                            reason: &reason,
                        });
                    }
                }
            }
            batch.clear();
        }
        on(ImportEvent::Progress {
            offset: framed.offset,
            report: &report,
        });
    }
    Ok(report)
}

/// Writes one batch in one transaction. When the database refuses the batch for one of its
/// users (a write that raced another, a value it will not take), the batch is written again one
/// user at a time, so the others still land and the refused one is reported; a database that
/// is down stops the import.
pub async fn import_batch(
    ctx: &AppContext,
    records: &[UserRecord],
    mode: ImportMode,
) -> Result<Vec<Written>> {
    match store::migration::write_batch(&ctx.db, records, mode.update, mode.dry_run).await {
        Ok(outcomes) => Ok(outcomes),
        Err(e @ Error::Unavailable(_)) => Err(e),
        Err(e) if records.len() == 1 => Ok(vec![Written::Refused(format!(
            "the database refused it: {e}"
        ))]),
        Err(e) => {
            tracing::warn!(error = %e, "a batch was refused; writing its users one at a time");
            let mut outcomes = Vec::with_capacity(records.len());
            for record in records {
                let one = std::slice::from_ref(record);
                match store::migration::write_batch(&ctx.db, one, mode.update, mode.dry_run).await {
                    Ok(mut o) => outcomes.push(o.remove(0)),
                    Err(e @ Error::Unavailable(_)) => return Err(e),
                    Err(e) => {
                        outcomes.push(Written::Refused(format!("the database refused it: {e}")))
                    }
                }
            }
            Ok(outcomes)
        }
    }
}

/// Every user as a document of LibreChat's `users` collection (relaxed Extended JSON), with
/// the password hash and the TOTP secret (re-encrypted in LibreChat's `v3:` format).
pub async fn export_documents(ctx: &AppContext) -> Result<Vec<Value>> {
    let cipher = SecretCipher::new(ctx.config.creds_key.0);
    store::migration::read_all(&ctx.db)
        .await?
        .iter()
        .map(|r| librechat::to_document(r, &cipher).map_err(Error::Validation))
        .collect()
}
