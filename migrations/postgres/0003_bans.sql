-- Bans of the moderation system: durable, so they survive a restart. One row per banned user
-- id or IP; a new ban of the same subject replaces the old one.
CREATE TABLE bans (
    kind           TEXT NOT NULL,     -- 'user' or 'ip'
    subject        TEXT NOT NULL,     -- user id, or normalised IP address
    user_id        TEXT,              -- the user whose violation banned this IP, if any
    violation_type TEXT NOT NULL,     -- e.g. 'logins', 'registrations', 'operator'
    score          BIGINT NOT NULL,   -- the violation score that crossed the interval
    duration_ms    BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    PRIMARY KEY (kind, subject)
);
CREATE INDEX bans_expires_at ON bans (expires_at);
