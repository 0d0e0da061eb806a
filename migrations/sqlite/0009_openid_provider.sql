-- Bouncer as an OpenID provider.

-- The keys that sign ID and access tokens. Generated at first start so every instance signs
-- with the same key; the private half is encrypted with CREDS_KEY. A rotation adds a key of the
-- next `generation` (unique: of instances racing to create the first key, one wins) and stamps
-- the older ones `retired_at`: they stay in the JWKS until their tokens have expired.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    generation  BIGINT NOT NULL UNIQUE,
    alg         TEXT NOT NULL,             -- RS256 or ES256
    private_key TEXT NOT NULL,             -- PKCS#8 DER, hex, encrypted with CREDS_KEY
    public_jwk  TEXT NOT NULL,             -- the JWK as published (JSON)
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);

-- Relying parties registered with `bouncer client add` (those of OIDC_CLIENTS_FILE live in
-- memory). Lists are JSON arrays of strings; a public client has no secret and must use PKCE.
CREATE TABLE oidc_clients (
    id                        TEXT PRIMARY KEY NOT NULL,
    name                      TEXT NOT NULL,
    secret_hash               TEXT,
    first_party               INTEGER NOT NULL DEFAULT 0,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
    audiences                 TEXT NOT NULL DEFAULT '[]',
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);

-- Authorization codes, kept as SHA-256. A code is redeemed once (`used_at`); presented again,
-- the session its tokens belong to (`grant_session_id`) is revoked.
CREATE TABLE oidc_codes (
    code_hash          TEXT PRIMARY KEY NOT NULL,
    client_id          TEXT NOT NULL,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    browser_session_id TEXT NOT NULL,
    redirect_uri       TEXT NOT NULL,
    scope              TEXT NOT NULL,
    nonce              TEXT,
    code_challenge     TEXT,
    auth_time          BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    used_at            BIGINT,
    grant_session_id   TEXT
);
CREATE INDEX oidc_codes_expires_at ON oidc_codes (expires_at);

-- What a user allowed a client to read, remembered so the consent page is shown once.
CREATE TABLE oidc_consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- A provider grant is a session of kind `provider`: its refresh token rotates with the same
-- reuse detection as LibreChat's, and it ends with the browser session it came from
-- (`parent_id`), and with every session of its user (ban, reset, deletion).
ALTER TABLE sessions ADD COLUMN client_id TEXT;
ALTER TABLE sessions ADD COLUMN scope TEXT;
ALTER TABLE sessions ADD COLUMN parent_id TEXT;
ALTER TABLE sessions ADD COLUMN auth_time BIGINT;
CREATE INDEX sessions_parent_id ON sessions (parent_id);
