-- Users, login sessions, and revoked session ids. Times are milliseconds since the Unix epoch and
-- flags are 0/1 integers, both passed from Rust, so the same SQL runs on SQLite and PostgreSQL.

CREATE TABLE users (
    id                 TEXT PRIMARY KEY NOT NULL,  -- 24 hex characters, MongoDB ObjectId format
    email              TEXT NOT NULL,              -- trimmed and lower-cased
    name               TEXT NOT NULL DEFAULT '',
    username           TEXT NOT NULL DEFAULT '',
    password_hash      TEXT,                       -- argon2id PHC string, or an imported bcrypt hash
    email_verified     INTEGER NOT NULL DEFAULT 0,
    avatar             TEXT,
    provider           TEXT NOT NULL DEFAULT 'local',
    role               TEXT NOT NULL DEFAULT 'USER',
    two_factor_enabled INTEGER NOT NULL DEFAULT 0,
    terms_accepted     INTEGER NOT NULL DEFAULT 0,
    terms_accepted_at  BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_username ON users (username);

-- One row per login. Only the SHA-256 of the current refresh token is kept, plus the previous
-- one for a short grace period after rotation (two tabs refreshing at once).
CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY NOT NULL,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_token_hash  TEXT NOT NULL,
    previous_token_hash TEXT,
    rotated_at          BIGINT,
    expires_at          BIGINT NOT NULL,           -- absolute, fixed at login
    created_at          BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Sessions ended before their time (logout, theft, ban, deletion). Kept only as long as an
-- access token of that session could still be alive, and loaded into memory so that access
-- tokens are checked without a database round trip.
CREATE TABLE revoked_sessions (
    session_id TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL,
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_sessions_expires_at ON revoked_sessions (expires_at);
