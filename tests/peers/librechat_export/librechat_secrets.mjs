// What LibreChat stores for a password and a TOTP secret, made the way LibreChat makes them:
// the password with bcryptjs at cost 10 (its AuthService's genSaltSync(10) + hashSync), the
// secret with AES-256-CTR under CREDS_KEY (64 hex characters), a random 16-byte IV as the
// initial counter block, written `v3:<iv hex>:<data hex>` (its encryptV3).
//
// Usage: node librechat_secrets.mjs <password> <CREDS_KEY hex> <Base32 TOTP secret>
// Prints {"password": "$2a$10$...", "totpSecret": "v3:..."}.
import crypto from 'node:crypto';
import bcrypt from 'bcryptjs';

const [password, credsKey, totpSecret] = process.argv.slice(2);
if (!password || !credsKey || !totpSecret) {
  console.error('usage: node librechat_secrets.mjs <password> <CREDS_KEY hex> <Base32 secret>');
  process.exit(2);
}
const key = Buffer.from(credsKey, 'hex');
if (key.length !== 32) {
  console.error('CREDS_KEY must be 64 hex characters');
  process.exit(2);
}
const iv = crypto.randomBytes(16);
const cipher = crypto.createCipheriv('aes-256-ctr', key, iv);
const data = Buffer.concat([cipher.update(totpSecret, 'utf8'), cipher.final()]);
const hash = bcrypt.hashSync(password, bcrypt.genSaltSync(10));
console.log(
  JSON.stringify({ password: hash, totpSecret: `v3:${iv.toString('hex')}:${data.toString('hex')}` }),
);
