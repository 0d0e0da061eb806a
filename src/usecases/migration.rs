//! Moving users in and out (`bouncer import-librechat`, `bouncer export`): batches of whole
//! users written all or nothing, and every user read back as a LibreChat document.

use serde_json::Value;

use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::migration::librechat;
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
