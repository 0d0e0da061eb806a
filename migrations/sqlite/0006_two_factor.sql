-- Two-factor authentication. Secrets are encrypted with CREDS_KEY (AES-256-GCM for new ones;
-- LibreChat's `v3:` AES-256-CTR and older formats are read too). Backup codes are a JSON array
-- of LibreChat's shape, `[{"codeHash": sha256 hex, "used": bool, "usedAt": ms or null}]`.
-- totp_last_step is the last 30-second step whose code was accepted: a code works once.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN backup_codes TEXT;
ALTER TABLE users ADD COLUMN pending_totp_secret TEXT;
ALTER TABLE users ADD COLUMN pending_backup_codes TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
