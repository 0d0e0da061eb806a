-- API keys for programmatic clients of the gateway. A key reads `bnc_<id>_<secret>`: `id` is
-- 12 hex characters (the primary key, shown as the prefix `bnc_<id>` to tell a user's keys
-- apart), the secret 32 random bytes. Only the SHA-256 of the whole key is kept (hex).
-- `scopes` is a JSON array of strings (`gateway`, `admin`).
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL DEFAULT '[]',
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_user ON api_keys (user_id);
-- Running servers pick up keys created or revoked by other processes by polling recent rows.
CREATE INDEX api_keys_created_at ON api_keys (created_at);
CREATE INDEX api_keys_revoked_at ON api_keys (revoked_at);
