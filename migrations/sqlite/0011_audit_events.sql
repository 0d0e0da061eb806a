-- The audit log: one row per security event (sign-ins, registrations, resets, 2FA, sessions,
-- bans, operators' actions, API keys). Rows outlive the users they name (no foreign key):
-- an audit trail that vanished with the account would hide what happened to it. Purged after
-- AUDIT_RETENTION_DAYS. `detail` is a JSON object (never a password, a token or a code).
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT,               -- whom the event is about
    actor_id   TEXT,               -- who acted, when not the user themselves (an admin)
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at);
-- Readings go newest first by id (keyset pagination): the per-user and per-kind indexes
-- end in the id so a filtered page is one index range.
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_kind ON audit_events (kind, id);
