"""A SAML 2.0 identity provider for Bouncer's SAML tests, built on pysaml2's IdP (`saml2.server`):
it reads AuthnRequests over the HTTP-Redirect binding, signs users in with a password form, and
answers with a signed Response over the HTTP-POST binding (the auto-submitting form), signing
with Debian's xmlsec1 as pysaml2 does in production.

Service providers are not configured in advance: a test posts its SP's metadata (Bouncer's own
`/oauth/saml/metadata`) to `/register-sp`, as an IdP administrator would load it.

Input: one JSON argument {key_file, cert_file, xmlsec_binary}
Output: one JSON line once listening: {"port": N, "entity_id": "...", "sso_url": "..."}
NameIDs are email addresses (the format Bouncer asks for, as passport-saml does).
Users (username / password):
  alice / alice-password: mail (by its OID), givenName, sn, uid
  bob / bob-password: "email" by that name (basic name format), and a displayName
"""

import html
import json
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server

USERS = {
    "alice": {
        "password": "alice-password",
        "name_id": "alice@example.com",
        "ava": {
            "mail": ["alice@example.com"],
            "givenName": ["Alice"],
            "sn": ["Liddell"],
            "uid": ["alice"],
        },
    },
    "bob": {
        "password": "bob-password",
        "name_id": "bob@example.com",
        "ava": {
            "email": ["bob@example.com"],
            "displayName": ["Bob the Builder"],
        },
    },
}

LOCK = threading.Lock()


def make_server(args, port):
    base = f"http://127.0.0.1:{port}"
    config = IdPConfig()
    config.load(
        {
            "entityid": f"{base}/metadata",
            "xmlsec_binary": args["xmlsec_binary"],
            "key_file": args["key_file"],
            "cert_file": args["cert_file"],
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(f"{base}/sso/redirect", BINDING_HTTP_REDIRECT)]
                    },
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": None}},
                    "sign_assertion": True,
                    "sign_response": False,
                    "want_authn_requests_signed": False,
                }
            },
            "metadata": {},
        }
    )
    return Server(config=config), base


def form_page(title, action, fields, extra=""):
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields
    )
    return (
        f"<html><head><title>{html.escape(title)}</title></head><body>"
        f'<form id="login-form" method="post" action="{html.escape(action)}">{inputs}{extra}'
        "</form></body></html>"
    )


def main():
    args = json.loads(sys.argv[1])
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), None)
    port = httpd.server_address[1]
    idp, base = make_server(args, port)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, status, body, content_type="text/html; charset=utf-8"):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlparse(self.path)
            if url.path == "/sso/redirect":
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                try:
                    with LOCK:
                        idp.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT)
                except Exception as e:  # noqa: BLE001 - the test reads the reason
                    return self.reply(400, f"bad AuthnRequest: {e!r}")
                fields = [("SAMLRequest", q["SAMLRequest"]), ("RelayState", q.get("RelayState", ""))]
                extra = '<input name="username"><input name="password" type="password">'
                return self.reply(200, form_page("Sign in", "/login", fields, extra))
            self.reply(404, "not found")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            url = urlparse(self.path)
            if url.path == "/register-sp":
                with LOCK:
                    idp.metadata.load("inline", body)
                return self.reply(200, "ok", "text/plain")
            if url.path != "/login":
                return self.reply(404, "not found")
            form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
            user = USERS.get(form.get("username", ""))
            if user is None or user["password"] != form.get("password"):
                return self.reply(401, "wrong username or password")
            with LOCK:
                request = idp.parse_authn_request(form["SAMLRequest"], BINDING_HTTP_REDIRECT)
                message = request.message
                sp = message.issuer.text
                binding, destination = idp.pick_binding(
                    "assertion_consumer_service", bindings=[BINDING_HTTP_POST], entity_id=sp
                )
                response = idp.create_authn_response(
                    user["ava"],
                    in_response_to=message.id,
                    destination=destination,
                    sp_entity_id=sp,
                    name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user["name_id"]),
                    authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
                    sign_assertion=True,
                    sign_response=False,
                    sign_alg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                    digest_alg="http://www.w3.org/2001/04/xmlenc#sha256",
                )
                http_args = idp.apply_binding(
                    BINDING_HTTP_POST,
                    str(response),
                    destination,
                    form.get("RelayState", ""),
                    response=True,
                )
            page = http_args["data"]
            if isinstance(page, bytes):
                page = page.decode()
            return self.reply(200, page)

    httpd.RequestHandlerClass = Handler
    print(
        json.dumps({"port": port, "entity_id": f"{base}/metadata", "sso_url": f"{base}/sso/redirect"}),
        flush=True,
    )
    httpd.serve_forever()


if __name__ == "__main__":
    tempfile.tempdir = tempfile.mkdtemp(prefix="saml-idp-")
    main()
