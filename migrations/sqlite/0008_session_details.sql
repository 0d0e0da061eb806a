-- What the account page shows of a session, and which kind it is: `api` (the refresh cookie of
-- LibreChat's client) or `browser` (the single-sign-on cookie of the sign-in pages, checked by
-- forward-auth). The device is the user agent and IP at sign-in; `last_used_at` is the last
-- refresh (api) or, to the nearest few minutes, the last request let through (browser).
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN last_used_at BIGINT;
