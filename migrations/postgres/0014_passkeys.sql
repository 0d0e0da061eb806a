-- Passkeys (WebAuthn credentials). `credential_id` is the authenticator's credential id
-- (base64url), unique across all users: a credential belongs to one account. `user_handle` is
-- the random WebAuthn user id (a UUID) the user's passkeys carry, never the account id.
-- `credential` is webauthn-rs's serialised credential (public key, flags) and `counter` its
-- signature counter, kept apart so that an update can refuse a counter that went backwards.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    user_handle   TEXT NOT NULL,
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    counter       BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A ceremony in progress (between its options and its result): the SHA-256 (hex) of the
-- random id its client holds, what it is for, whose it is (registration, second factor), the
-- state webauthn-rs needs to finish it (its challenge) and when it lapses. Taken once.
-- `client` is the asking IP (its IPv6 prefix), which may hold only so many at once.
CREATE TABLE passkey_ceremonies (
    id         TEXT PRIMARY KEY NOT NULL,
    purpose    TEXT NOT NULL,
    user_id    TEXT,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    client     TEXT NOT NULL
);
CREATE INDEX passkey_ceremonies_expires_at ON passkey_ceremonies (expires_at);
CREATE INDEX passkey_ceremonies_client ON passkey_ceremonies (client, expires_at);
