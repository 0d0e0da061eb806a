#!/usr/bin/env python3
"""Checks the log of a whole test run for secrets, passwords and tokens.

`.ci/run` runs the integration suite with BOUNCER_TEST_LOG_FILE set: every server the suite
boots logs every line, down to `debug`, into that file (tests/api/log_capture.rs). This script
then fails if the file holds:

- a secret or password the suite uses: every `const NAME: &str = "..."` in tests/api whose
  name says it is one (PASSWORD, SECRET, KEY, TOKEN), and the passwords the tests type;
- anything shaped like a credential Bouncer issues: a JWT (access, refresh, 2FA-temp, ID
  token), an API key's secret, a 64-hex email token, an OAuth/OpenID authorization code or
  refresh token of the provider, a `refreshToken=` cookie value;
- a log field named like a credential with a value (tracing's `password=…`, `token=…`,
  `secret=…`; SQL text such as `SET totp_secret = $1` is not a field).

Usage: log_secrets.py LOG [--self-test]. Exit 1 with the offending lines (secrets masked).
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent

# Constants of the suite that are secrets by name.
CONST = re.compile(r'const\s+([A-Z0-9_]+)\s*:\s*&str\s*=\s*"([^"]{6,})"')
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN|CREDS")
# Passwords typed into requests and forms by the tests.
TYPED = re.compile(
    r'"(?:password|confirm_password|current_password|new_password)"\s*[:,]\s*"([^"]{8,})"'
)

SHAPES = {
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "an API key's secret": re.compile(r"bnc_[0-9a-f]{12}_[A-Za-z0-9_-]{43}"),
    "a refresh cookie": re.compile(r"refreshToken=[^;\s]{16,}"),
    "a credential field": re.compile(
        r"\b(?:password|passwd|token|secret|refresh_token|access_token|id_token|code_verifier|"
        r"client_secret|totp_secret|backup_code)s?=\"?(?!\[redacted\])[^\s\",}]{6,}",
        re.IGNORECASE,
    ),
}


# Values that are names, not secrets (a column, a path), though a pattern above caught them.
NOT_A_SECRET = re.compile(r"^(?:[a-z_]+|/.*)$")


def known_secrets():
    found = set()
    for path in (ROOT / "api").rglob("*.rs"):
        text = path.read_text(encoding="utf-8", errors="replace")
        for name, value in CONST.findall(text):
            if SECRET_NAME.search(name):
                found.add(value)
        for value in TYPED.findall(text):
            found.add(value)
    return {value for value in found if not NOT_A_SECRET.match(value)}


def mask(line, secret):
    return line.replace(secret, secret[:3] + "…")


def check(lines, secrets):
    problems = []
    for number, line in enumerate(lines, 1):
        for secret in secrets:
            if secret in line:
                problems.append((number, "a test secret or password", mask(line, secret)))
        for what, shape in SHAPES.items():
            hit = shape.search(line)
            if hit:
                problems.append((number, what, mask(line, hit.group(0))))
    return problems


def self_test(secrets):
    """The checker must catch each kind it claims to: a planted line of each fails."""
    planted = [
        "INFO request: user registered password=" + next(iter(secrets)),
        "DEBUG sending eyJhbGciOiJIUzI1NiJ9x.eyJpZCI6IjEyMyJ9abcdef.c2lnbmF0dXJlMTIzNDU2",
        "DEBUG key bnc_0123456789ab_" + "A" * 43,
        "INFO set-cookie refreshToken=abcdefghijklmnopqrstuvwxyz",
        'WARN failed token="0123456789abcdef"',
    ]
    caught = {number for number, _, _ in check(planted, secrets)}
    missed = [planted[i - 1] for i in range(1, len(planted) + 1) if i not in caught]
    clean = check(["INFO bouncer listening address=127.0.0.1:3080 request_id=ab12"], secrets)
    if missed or clean:
        print("log_secrets.py self-test failed: missed", missed, "false alarm", clean)
        return False
    return True


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    secrets = known_secrets()
    if not secrets:
        print("log_secrets.py: found no test secrets in tests/api; the pattern is broken")
        return 1
    if not self_test(secrets):
        return 1
    if "--self-test" in sys.argv[2:]:
        print(f"log_secrets.py: self-test passed ({len(secrets)} known secrets)")
        return 0
    log = pathlib.Path(sys.argv[1])
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines:
        print(f"log_secrets.py: {log} is empty; the suite logged nothing?")
        return 1
    problems = check(lines, secrets)
    if problems:
        for number, what, line in problems[:50]:
            print(f"{log}:{number}: {what}: {line[:400]}")
        print(f"log_secrets.py: {len(problems)} lines of the suite's log hold a secret")
        return 1
    print(
        f"log_secrets.py: {len(lines)} log lines of the suite, none holds one of "
        f"{len(secrets)} known secrets or a credential's shape"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
