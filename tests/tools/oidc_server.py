#!/usr/bin/env python3
"""A small OAuth 2.0 authorization server for the Kafka tests: the client-credentials grant.

  oidc_server.py PORT_FILE CLIENT_ID CLIENT_SECRET

Listens on a free loopback port (written to PORT_FILE once it listens) and serves:
  GET  /jwks   the signing key (RSA, RS256), as the broker's OAuthBearerValidatorCallbackHandler
               fetches it (sasl.oauthbearer.jwks.endpoint.url);
  POST /token  grant_type=client_credentials with the client's id and secret in HTTP Basic
               authentication (as librdkafka's OIDC sends them) or in the form: a JWT with sub
               (the client id), aud "kafka", iss "akvo-test", iat, exp (one hour) and the
               requested scope. A wrong id or secret gets 401 {"error": "invalid_client"}.
Each token request is logged on stdout: `token client=ID scope=SCOPE status=CODE`.
"""
import base64
import json
import os
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PORT_FILE, CLIENT_ID, CLIENT_SECRET = sys.argv[1:4]
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "akvo-test"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def jwt(claims: dict) -> str:
    header = {"alg": "RS256", "typ": "JWT", "kid": KID}
    signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = KEY.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing + "." + b64url(sig)


PUB = KEY.public_key().public_numbers()
JWKS = {"keys": [{"kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256",
                  "n": uint(PUB.n), "e": uint(PUB.e)}]}


class Handler(BaseHTTPRequestHandler):
    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/jwks":
            self.reply(200, JWKS)
        else:
            self.reply(404, {"error": "not_found"})

    def do_POST(self):
        if self.path != "/token":
            self.reply(404, {"error": "not_found"})
            return
        form = urllib.parse.parse_qs(
            self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
        client, secret = form.get("client_id", [""])[0], form.get("client_secret", [""])[0]
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        scope = form.get("scope", [""])[0]
        if form.get("grant_type", [""])[0] != "client_credentials":
            code, body = 400, {"error": "unsupported_grant_type"}
        elif client != CLIENT_ID or secret != CLIENT_SECRET:
            code, body = 401, {"error": "invalid_client"}
        else:
            now = int(time.time())
            claims = {"sub": client, "aud": "kafka", "iss": "akvo-test", "iat": now,
                      "exp": now + 3600, "scope": scope}
            code, body = 200, {"access_token": jwt(claims), "token_type": "Bearer",
                               "expires_in": 3600}
        print(f"token client={client} scope={scope} status={code}", flush=True)
        self.reply(code, body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.replace(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
