-- Emailed tokens (verification, password reset, invitation) and the expiry of unverified
-- accounts. Only a token's SHA-256 is stored; one live token per purpose and email, so issuing
-- a new one replaces the old.
ALTER TABLE users ADD COLUMN expires_at BIGINT;  -- unverified registrations are deleted after this
CREATE INDEX users_expires_at ON users (expires_at);

CREATE TABLE email_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    purpose    TEXT NOT NULL,      -- 'email_verification', 'password_reset' or 'invite'
    email      TEXT NOT NULL,      -- lower-cased, as in users
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,  -- none for invitations
    token_hash TEXT NOT NULL,      -- SHA-256 hex of the emailed token
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX email_tokens_purpose_email ON email_tokens (purpose, email);
CREATE INDEX email_tokens_user_id ON email_tokens (user_id);
CREATE INDEX email_tokens_expires_at ON email_tokens (expires_at);
