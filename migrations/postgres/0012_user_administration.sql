-- A user an operator disabled: refused by every sign-in route until enabled again.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
