-- A user an operator disabled: refused by every sign-in route until enabled again.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
-- The admin API's user list sorts by these with the id as tie-breaker and pages by keyset:
-- each sort walks its index instead of sorting the table.
CREATE INDEX users_created_at_id ON users (created_at, id);
CREATE INDEX users_email_id ON users (email, id);
CREATE INDEX users_name_id ON users (name, id);
CREATE INDEX users_username_id ON users (username, id);
-- An operator's ban says why and who made it (NULL for automatic bans).
ALTER TABLE bans ADD COLUMN reason TEXT;
ALTER TABLE bans ADD COLUMN created_by TEXT;
