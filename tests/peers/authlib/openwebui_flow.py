"""Open WebUI's OpenID sign-in, done with Authlib (the library Open WebUI uses): discovery,
the authorization request with a nonce, the sign-in form of Bouncer's pages, the code
exchange with client_secret_basic, the ID token checked against the JWKS (Authlib's
CodeIDToken rules), and userinfo. Prints what it saw as JSON.

Input: one JSON argument {issuer, client_id, client_secret, redirect_uri, email, password}.
"""

import json
import re
import sys
from html import unescape
from urllib.parse import urljoin

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken


def field(html, name):
    match = re.search(r'name="%s"[^>]*value="([^"]*)"' % name, html)
    return unescape(match.group(1)) if match else None


def main():
    cfg = json.loads(sys.argv[1])
    metadata = requests.get(
        cfg["issuer"] + "/.well-known/openid-configuration", timeout=10
    ).json()
    oauth = OAuth2Session(
        cfg["client_id"],
        cfg["client_secret"],
        scope="openid email profile",
        redirect_uri=cfg["redirect_uri"],
        token_endpoint_auth_method="client_secret_basic",
    )
    nonce = generate_token(20)
    url, state = oauth.create_authorization_url(
        metadata["authorization_endpoint"], nonce=nonce
    )

    browser = requests.Session()
    callback = None
    for _ in range(10):
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["location"])
            if url.startswith(cfg["redirect_uri"]):
                callback = url
                break
            continue
        html = response.text
        if "/ui/login" not in url:
            raise SystemExit("unexpected page %s (%s)" % (url, response.status_code))
        posted = browser.post(
            urljoin(url, "/ui/login"),
            data={
                "csrf": field(html, "csrf"),
                "rd": field(html, "rd") or "",
                "email": cfg["email"],
                "password": cfg["password"],
            },
            headers={"Origin": cfg["issuer"]},
            allow_redirects=False,
            timeout=10,
        )
        if posted.status_code != 303:
            raise SystemExit("signing in failed: %s" % posted.status_code)
        url = urljoin(url, posted.headers["location"])
    if callback is None:
        raise SystemExit("never sent back to the redirect URI")

    token = oauth.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, state=state
    )
    jwks = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    claims = jwt.decode(
        token["id_token"],
        jwks,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "values": [metadata["issuer"]]}},
        claims_params={"nonce": nonce, "client_id": cfg["client_id"]},
    )
    claims.validate()
    userinfo = oauth.get(metadata["userinfo_endpoint"], timeout=10).json()
    picture = userinfo.get("picture") or claims.get("picture")
    picture_status = None
    if picture:
        picture_status = requests.get(
            picture,
            headers={"Authorization": "Bearer " + token["access_token"]},
            timeout=10,
        ).status_code
    print(
        json.dumps(
            {
                "token_type": token["token_type"],
                "claims": dict(claims),
                "userinfo": userinfo,
                "picture": picture,
                "picture_status": picture_status,
            }
        )
    )


if __name__ == "__main__":
    main()
