"""A relying party of Bouncer's OpenID provider written with Authlib, as Open WebUI signs its
users in: OAuth2Session (requests), client_secret_basic, scope "openid email profile",
discovery, the authorization URL, the code exchange, the ID token validated against the
provider's JWKS (authlib.jose with CodeIDToken's claim rules) and userinfo.

The browser's part (sign-in page, consent page, redirects) is done with a requests.Session
that does not follow redirects; the redirect URI itself is never fetched.

Input: one JSON argument
  {issuer, client_id, client_secret, redirect_uri, email, password}
Output: one JSON line; exit 0 when every step passed, 1 otherwise (with "error").
"""

import html
import json
import re
import sys
import time
import warnings
from urllib.parse import urljoin

import requests

# Newer Authlib releases deprecate authlib.jose (for joserfc); it is what Open WebUI's
# Authlib uses to check ID tokens.
warnings.filterwarnings("ignore", message=".*authlib.jose module is deprecated.*")

from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.jose import JsonWebKey, jwt  # noqa: E402
from authlib.oidc.core import CodeIDToken  # noqa: E402

SCOPE = "openid email profile"


def hidden_form(page, form_id):
    """The action and hidden fields of the form with this id, or None."""
    start = page.find(f'id="{form_id}"')
    if start < 0:
        return None
    open_at = page.rfind("<form", 0, start)
    end = page.find("</form>", start)
    form_tag = page[open_at : page.find(">", open_at) + 1]
    action = re.search(r'\saction="([^"]*)"', form_tag)
    fields = []
    for tag in re.findall(r"<input\b[^>]*>", page[open_at:end], re.I):
        kind = re.search(r'\stype="([^"]*)"', tag)
        if kind and kind.group(1).lower() == "hidden":
            name = re.search(r'\sname="([^"]*)"', tag)
            value = re.search(r'\svalue="([^"]*)"', tag)
            fields.append(
                (html.unescape(name.group(1)), html.unescape(value.group(1)) if value else "")
            )
    return html.unescape(action.group(1)) if action else "", fields


def browse_to_redirect_uri(authorization_url, args):
    """Follows the provider's redirects, signing in and allowing on the way; returns the URL
    the browser is finally sent to (on the redirect URI) and the pages it saw."""
    browser = requests.Session()
    browser.headers["User-Agent"] = "Mozilla/5.0 (bouncer relying-party test)"
    url, form, pages = authorization_url, None, []
    for _ in range(16):
        if url.startswith(args["redirect_uri"]):
            return url, pages
        if form is None:
            response = browser.get(url, allow_redirects=False, timeout=30)
        else:
            origin = re.match(r"^[a-z]+://[^/]+", url).group(0)
            response = browser.post(
                url, data=form, headers={"Origin": origin}, allow_redirects=False, timeout=30
            )
        form = None
        if 300 <= response.status_code < 400:
            url = urljoin(url, response.headers["Location"])
            continue
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:500]}")
        login = hidden_form(response.text, "login-form")
        consent = hidden_form(response.text, "consent-form")
        if login and "login" not in pages:
            pages.append("login")
            form = login[1] + [("email", args["email"]), ("password", args["password"])]
            url = urljoin(url, login[0])
        elif consent and "consent" not in pages:
            pages.append("consent")
            form = consent[1] + [("decision", "allow")]
            url = urljoin(url, consent[0])
        else:
            raise RuntimeError(f"unexpected page at {url}: {response.text[:800]}")
    raise RuntimeError("the provider never sent the browser to the redirect URI")


def main():
    args = json.loads(sys.argv[1])
    discovery_url = args["issuer"].rstrip("/") + "/.well-known/openid-configuration"
    metadata = requests.get(discovery_url, timeout=30).json()
    if metadata["issuer"] != args["issuer"]:
        raise RuntimeError(f"discovery names issuer {metadata['issuer']!r}")

    session = OAuth2Session(
        client_id=args["client_id"],
        client_secret=args["client_secret"],
        scope=SCOPE,
        redirect_uri=args["redirect_uri"],
        token_endpoint_auth_method="client_secret_basic",
    )
    nonce = generate_token(20)
    authorization_url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], nonce=nonce
    )
    callback, pages = browse_to_redirect_uri(authorization_url, args)

    # Checks the state of the callback against the session's.
    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, state=state
    )

    jwks = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=30).json())
    claims = jwt.decode(
        token["id_token"],
        jwks,
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "values": [metadata["issuer"]]},
            "aud": {"essential": True, "values": [args["client_id"]]},
        },
        claims_params={
            "nonce": nonce,
            "client_id": args["client_id"],
            "access_token": token["access_token"],
        },
    )
    # exp, iat, iss, aud, azp, nonce, auth_time, at_hash: OpenID Connect Core 3.1.3.7.
    claims.validate(now=int(time.time()), leeway=5)
    header_alg = claims.header["alg"]

    userinfo = session.get(metadata["userinfo_endpoint"], timeout=30)
    userinfo.raise_for_status()
    info = userinfo.json()

    picture = claims.get("picture", info.get("picture"))
    picture_ok = picture is None or bool(re.match(r"^https?://[^\s/]+", picture))
    # Open WebUI downloads the picture with the access token when it is the provider's own
    # (its initials picture); an avatar elsewhere is not fetched here (no network).
    fetched = None
    if picture and picture.startswith(metadata["issuer"] + "/"):
        with_token = requests.get(
            picture, headers={"Authorization": "Bearer " + token["access_token"]}, timeout=30
        )
        without = requests.get(picture, timeout=30)
        fetched = {
            "status": with_token.status_code,
            "content_type": with_token.headers.get("Content-Type"),
            "body": with_token.text[:2000],
            "status_without_token": without.status_code,
        }

    print(
        json.dumps(
            {
                "ok": True,
                "pages": pages,
                "callback": callback,
                "token_type": token.get("token_type"),
                "scope": token.get("scope"),
                "has_refresh_token": bool(token.get("refresh_token")),
                "id_token_alg": header_alg,
                "claims": dict(claims),
                "userinfo": info,
                "picture": picture,
                "picture_is_url": picture_ok,
                "picture_fetched": fetched,
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - the test prints whatever stopped the flow
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
