"""LibreChat `users` documents for the import tests, written as mongoexport writes them: MongoDB
Extended JSON from pymongo's bson.json_util (the encoder of the same specification), relaxed
(mongoexport's default) or canonical (--jsonFormat=canonical), one document a line or a JSON
array (--jsonArray).

    python make_users.py --mode relaxed|canonical [--array] --secrets FILE --out FILE
                         [--issuer URL] [--now-ms MS] [--bulk N]

FILE of --secrets is librechat_secrets.mjs's output: {"password": bcrypt, "totpSecret": "v3:..."}.
Without --bulk the file holds the scenario the tests read (every id below is fixed); with
--bulk N, N plain users (every fourth with a googleId), for volume.
"""

import argparse
import datetime
import hashlib
import json

from bson import ObjectId, json_util
from bson.int64 import Int64

UTC = datetime.timezone.utc
CREATED = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
UPDATED = datetime.datetime(2024, 6, 7, 8, 9, 10, 111000, tzinfo=UTC)
# The backup codes of the 2FA user: the first is unused, the second already used.
BACKUP_CODES = ["a1b2c3d4", "e5f6a7b8"]


def base(oid, email, name, username, provider="local", **extra):
    doc = {
        "_id": ObjectId(oid),
        "name": name,
        "username": username,
        "email": email,
        "emailVerified": True,
        "avatar": None,
        "provider": provider,
        "role": "USER",
        "plugins": [],
        "twoFactorEnabled": False,
        "termsAccepted": False,
        "termsAcceptedAt": None,
        "refreshToken": [],
        "personalization": {"memories": True},
        "createdAt": CREATED,
        "updatedAt": UPDATED,
        "__v": 0,
    }
    doc.update(extra)
    return doc


def scenario(secrets, issuer, now_ms):
    expires = datetime.datetime.fromtimestamp((now_ms + 7 * 86400 * 1000) / 1000, tz=UTC)
    used_at = datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    codes = [
        {"codeHash": hashlib.sha256(BACKUP_CODES[0].encode()).hexdigest(), "used": False, "usedAt": None},
        {"codeHash": hashlib.sha256(BACKUP_CODES[1].encode()).hexdigest(), "used": True, "usedAt": used_at},
    ]
    good = [
        base("65a000000000000000000001", "ada@example.com", "Ada Lovelace", "ada",
             password=secrets["password"], role="ADMIN", termsAccepted=True,
             termsAcceptedAt=UPDATED, avatar="https://images.example.com/ada.png"),
        base("65a000000000000000000002", "tess@example.com", "Tess TwoFactor", "tess",
             password=secrets["password"], twoFactorEnabled=True,
             totpSecret=secrets["totpSecret"], backupCodes=codes),
        base("65a000000000000000000003", "gwen@example.com", "Gwen Google", "gwen", "google",
             googleId="google-sub-1001"),
        base("65a000000000000000000004", "gil@example.com", "Gil GitHub", "gil", "github",
             githubId="424242"),
        base("65a000000000000000000005", "dora@example.com", "Dora Discord", "dora", "discord",
             discordId="808080808080"),
        base("65a000000000000000000006", "fay@example.com", "Fay Facebook", "fay", "facebook",
             facebookId="fb-5150"),
        base("65a000000000000000000007", "abe@example.com", "Abe Apple", "abe", "apple",
             appleId="000123.abcdef.0456"),
        base("65a000000000000000000008", "olga@example.com", "Olga OpenID", "olga", "openid",
             openidId="oidc-sub-7", openidIssuer=issuer),
        base("65a000000000000000000009", "lin@example.com", "Lin Ldap", "lin", "ldap",
             ldapId="lin"),
        base("65a00000000000000000000a", "sam@example.com", "Sam Saml", "sam", "saml",
             samlId="saml-name-id-9"),
        # Registered, never verified: LibreChat deletes it after expiresAt.
        base("65a00000000000000000000b", "uma@example.com", "Uma Unverified", "uma",
             password=secrets["password"], emailVerified=False, expiresAt=expires),
        base("65a00000000000000000000c", "mod@example.com", "Mo Moderator", "mo",
             password=secrets["password"], role="MODERATOR"),
    ]
    bad = [
        # The same _id as Ada's, again.
        base("65a000000000000000000001", "ada2@example.com", "Ada Again", "ada2"),
        # Ada's email in other case, under another id.
        base("65a0000000000000000000f1", " ADA@Example.com ", "Ada Copy", "adacopy"),
        # No email.
        {k: v for k, v in base("65a0000000000000000000f2", "x@example.com", "No Mail", "nomail").items()
         if k != "email"},
        # Gwen's Google account on another user.
        base("65a0000000000000000000f3", "gwen2@example.com", "Gwen Twin", "gwen2", "google",
             googleId="google-sub-1001"),
        # A password that is no hash.
        base("65a0000000000000000000f4", "plain@example.com", "Plain Text", "plain",
             password="hunter2hunter2"),
    ]
    return good, bad


def bulk(secrets, n):
    docs = []
    for i in range(n):
        extra = {"password": secrets["password"]}
        provider = "local"
        if i % 4 == 3:
            provider = "google"
            extra = {"googleId": f"bulk-google-{i}"}
        docs.append(base(f"{0x66000000:08x}{i:016x}", f"user{i}@example.com", f"User {i}",
                         f"user{i}", provider, **extra))
    return docs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["relaxed", "canonical"], required=True)
    p.add_argument("--array", action="store_true")
    p.add_argument("--secrets", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--issuer", default="https://idp.example.com")
    p.add_argument("--now-ms", type=int, default=0)
    p.add_argument("--bulk", type=int, default=0)
    a = p.parse_args()
    with open(a.secrets) as f:
        secrets = json.load(f)
    options = json_util.RELAXED_JSON_OPTIONS if a.mode == "relaxed" else json_util.CANONICAL_JSON_OPTIONS
    if a.bulk:
        docs, bad = bulk(secrets, a.bulk), []
    else:
        docs, bad = scenario(secrets, a.issuer, a.now_ms)
    if a.mode == "canonical":
        for d in docs + bad:
            d["__v"] = Int64(0)
    with open(a.out, "w") as out:
        if a.array:
            # mongoexport --jsonArray --pretty; a non-document stands for the broken line.
            items = [json.loads(json_util.dumps(d, json_options=options)) for d in docs + bad]
            items.append(42)
            out.write(json.dumps(items, indent=2) + "\n")
        else:
            lines = [json_util.dumps(d, json_options=options) for d in docs + bad]
            if bad:
                lines.insert(len(docs) + 1, '{"_id": {"$oid": "65a0000000000000000000f5"}, "email": ')
            out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
