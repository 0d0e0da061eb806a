//! The `audit_events` table.

use super::Db;
use crate::audit::Stamped;
use crate::error::Result;

/// Stores `events` in one statement.
pub async fn insert_batch(db: &Db, events: &[Stamped]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO audit_events (at, kind, user_id, actor_id, ip, user_agent, detail) VALUES ",
    );
    for i in 0..events.len() {
        let b = i * 7;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7
        ));
    }
    let mut query = sqlx::query(&sql);
    for s in events {
        let e = &s.event;
        query = query
            .bind(s.at_ms)
            .bind(e.kind.as_str())
            .bind(e.user_id.clone())
            .bind(e.actor_id.clone())
            .bind(e.ip.map(|ip| ip.to_string()))
            .bind(e.user_agent.clone())
            .bind(serde_json::Value::Object(e.detail.clone()).to_string());
    }
    query.execute(db.pool()).await?;
    Ok(())
}
