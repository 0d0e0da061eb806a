-- Accounts at external identity providers (OpenID Connect, social logins) bound to users: the
-- provider, the issuer (OpenID; empty for social providers) and the provider's stable subject.
CREATE TABLE user_identities (
    provider   TEXT NOT NULL,
    issuer     TEXT NOT NULL DEFAULT '',
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (provider, issuer, subject)
);
CREATE INDEX user_identities_user_id ON user_identities (user_id);
