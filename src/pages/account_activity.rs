//! The account page's "Recent activity": the user's own latest audit events in words
//! (`usecases::audit::recent_for_user`), so a sign-in they did not make stands out.

use super::text::{activity_label, activity_method};
use crate::usecases::audit::AuditRecord;

/// How many events the section shows.
pub const SHOWN: i64 = 20;

/// One row of the activity table.
pub struct ActivityRow {
    pub when: String,
    pub what: String,
    pub ip: String,
    pub device: String,
}

pub fn rows(events: Vec<AuditRecord>) -> Vec<ActivityRow> {
    events.into_iter().map(row).collect()
}

fn row(event: AuditRecord) -> ActivityRow {
    let mut what = activity_label(&event.kind).to_string();
    let mut facts: Vec<String> = Vec::new();
    if let Some(method) = event.detail_str("method") {
        facts.push(activity_method(method));
    }
    match event.detail_str("second_factor") {
        Some("backup_code") => facts.push("backup code".into()),
        Some("passkey") => facts.push("passkey as second factor".into()),
        Some(_) => facts.push("two-factor code".into()),
        None => {}
    }
    if let Some(reason) = event.detail_str("reason") {
        facts.push(reason.replace('_', " "));
    }
    if !facts.is_empty() {
        what = format!("{what} ({})", facts.join(", "));
    }
    ActivityRow {
        when: super::account::when(Some(event.at_ms)),
        what,
        ip: event.ip.unwrap_or_else(|| "-".into()),
        device: super::account::describe_device(event.user_agent.as_deref()),
    }
}
