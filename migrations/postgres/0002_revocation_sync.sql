-- Running servers pick up revocations written by other processes (the user-management
-- commands) by polling for recent rows.
CREATE INDEX revoked_sessions_revoked_at ON revoked_sessions (revoked_at);
