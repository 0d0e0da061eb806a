-- SAML assertions already used to sign in, remembered until they expire so that none is
-- accepted twice, whichever instance sees it: the assertion's ID (as the identity provider
-- wrote it) and the time after which it would be refused anyway.
CREATE TABLE saml_assertions (
    id         TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX saml_assertions_expires_at ON saml_assertions (expires_at);
