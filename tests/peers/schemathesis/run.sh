#!/usr/bin/env bash
# schemathesis against a live Bouncer, with the document it serves (`/api/openapi.json`):
# every answer must be no 5xx, of a documented status and content type, and of its schema.
#
#   tests/peers/schemathesis/run.sh           # builds the debug binary if it is missing
#   BOUNCER_BIN=target/release/bouncer ST_MAX_EXAMPLES=50 tests/peers/schemathesis/run.sh
#
# schemathesis is installed into a virtual environment under the Cargo target directory
# (target/schemathesis-venv, beside the tests' target/tmp/test-peers-venv), from the pinned
# requirements.txt. The server runs on a fresh SQLite database in a temporary directory, with
# one registered ADMIN (the first user) whose access token and `admin`-scoped API key are
# schemathesis's credentials (schemathesis.toml). Bounded: ST_MAX_EXAMPLES cases per operation
# (default 20), and ST_MAX_TIME seconds (default 100) plus 45 for the second run below; ST_SEED
# (default 1) picks the cases.
#
# The moderation system would ban schemathesis within seconds (it logs in wrong and registers
# by the hundred): for this run only, bans are off (BAN_VIOLATIONS=false) and the limiters'
# maxima are far above what it sends. The defaults are untouched.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/schemathesis-venv"
max_examples="${ST_MAX_EXAMPLES:-20}"
max_time="${ST_MAX_TIME:-100}"

if ! "$venv/bin/st" --version 2>/dev/null | grep -qF "$(cut -d= -f3 "$here/requirements.txt")"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

bin="${BOUNCER_BIN:-$target/debug/bouncer}"
if [ ! -x "$bin" ]; then
  (cd "$root" && cargo build --bin bouncer)
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
secret() { python3 -c 'import secrets; print(secrets.token_hex(32))'; }

limits=()
for limiter in LOGIN REGISTER RESET_PASSWORD RESET_PASSWORD_SUBMISSION VERIFY_EMAIL \
  VERIFY_EMAIL_SUBMISSION TWO_FACTOR_TEMP; do
  limits+=("${limiter}_MAX=1000000")
done

# A clean environment: only what this run sets (no .env of the checkout is read: the
# server runs in the temporary directory).
(cd "$work" && exec env -i PATH="$PATH" HOME="$work" \
  HOST=127.0.0.1 PORT="$port" \
  DATABASE_URL="sqlite://$work/bouncer.db?mode=rwc" \
  JWT_SECRET="$(secret)" JWT_REFRESH_SECRET="$(secret)" CREDS_KEY="$(secret)" \
  ALLOW_REGISTRATION=true BAN_VIOLATIONS=false REQUIRE_2FA_FOR_ADMINS=false \
  "${limits[@]}" RUST_LOG=warn \
  "$bin" serve >"$work/bouncer.log" 2>&1) &
server_pid=$!

for _ in $(seq 1 100); do
  curl -fsS "$base/livez" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/livez" >/dev/null

json() { curl -sS -X "$1" "$base$2" -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} -d "${4:-{\}}"; }
field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }

password="schemathesis-$(secret)"
json POST /api/auth/register "" "{\"name\":\"Admin\",\"email\":\"admin@example.com\",\"password\":\"$password\",\"confirm_password\":\"$password\"}" >/dev/null
BOUNCER_ADMIN_TOKEN="$(json POST /api/auth/login "" "{\"email\":\"admin@example.com\",\"password\":\"$password\"}" | field token)"
BOUNCER_ADMIN_API_KEY="$(json POST /api/bouncer/account/api-keys "$BOUNCER_ADMIN_TOKEN" '{"name":"schemathesis","scopes":["admin"]}' | field key)"
export BOUNCER_ADMIN_TOKEN BOUNCER_ADMIN_API_KEY

# No stateful phase: following the links it infers (a user's id from the list to
# `/users/{id}/sign-out`) it ends the admin's own session, and every later case is a 401.
phases="examples,coverage,fuzzing"
checks="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
status=0
# The operations that can end the run's own credentials (schemathesis learns the admin's id and
# the key's id from the listings, and signs the admin out, revokes the key, deletes the
# account): a second run, after the first has had working credentials throughout.
ending='^/api/user/delete$|^/api/bouncer/users/[{]id[}]$|^/api/bouncer/users/[{]id[}]/(sign-out|reset-2fa|disable|sessions.*)$|^/api/bouncer/(account/)?api-keys/[{]id[}]$'
# From the temporary directory: schemathesis keeps its cache (.schemathesis/) in the current one.
run_st() {
  (cd "$work" && "$venv/bin/st" --config-file "$here/schemathesis.toml" run "$base/api/openapi.json" \
    --checks "$checks" --max-examples "$max_examples" --phases "$phases" \
    --request-timeout 10 --seed "${ST_SEED:-1}" --workers 2 "$@")
}
run_st --max-time "$max_time" --exclude-path-regex "$ending" ${ST_ARGS:-} || status=$?
if [ "$status" -eq 0 ] && [ -z "${ST_ARGS:-}" ]; then
  run_st --max-time 45 --include-path-regex "$ending" || status=$?
fi
if [ -n "${ST_DEBUG:-}" ]; then
  curl -sS -o /dev/null -w 'admin token after the run: %{http_code}\n' -H "Authorization: Bearer $BOUNCER_ADMIN_TOKEN" "$base/api/user"
  curl -sS -o /dev/null -w 'admin API key after the run: %{http_code}\n' -H "Authorization: Bearer $BOUNCER_ADMIN_API_KEY" "$base/api/bouncer/settings"
fi
if ! curl -fsS "$base/livez" >/dev/null; then
  echo "Bouncer stopped answering during the run" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "== the server's log (warnings and errors)"
  tail -n 50 "$work/bouncer.log"
fi
exit "$status"
