"""The simulator as the data plane's token server (distribution's ``auth.token``), as registry.digitalocean.com works.

A client (skopeo, docker) that the registry answers 401 asks the realm, ``GET /registry/token?service=S&scope=...``,
with the docker credentials the API issued as basic auth. The simulator checks them (known, not expired on the
simulated clock, issued for the registry named by the repository's first path component) and answers a JWT
signed with a key pair made at start, granting ``pull`` and, for read-write credentials while no GC is active,
``push``. The registry trusts the key through ``rootcertbundle``; the token carries the certificate in ``x5c``.

Only the standard library and ``cryptography`` (an ansible-core dependency) are used.
"""

import base64
import datetime
import json
import re
import time
import uuid

SERVICE = "docr-simulator"
ISSUER = "docr-simulator-token-server"
# Lifetime of a token, in seconds, both on the wall clock (the registry checks ``exp`` against it) and on the
# simulated clock (the GC's "waiting for write JWTs to expire" phase waits out the last write token issued).
TOKEN_SECONDS = 300
SCOPE_RE = re.compile(r"^repository:([a-z0-9]+(?:[._/-][a-z0-9]+)*):([a-z*,]*)$")


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SigningKey:
    """An EC P-256 key and a self-signed certificate for it (the registry's ``rootcertbundle``)."""

    def __init__(self):
        # pylint: disable=import-outside-toplevel
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._hashes = hashes
        self._ec = ec
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=7))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self.cert_der_b64 = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")

    def sign(self, claims):
        """A compact ES256 JWS of ``claims`` with the certificate in ``x5c`` (distribution 2.8 checks it)."""
        # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        header = {"typ": "JWT", "alg": "ES256", "x5c": [self.cert_der_b64]}
        signing_input = (_b64(json.dumps(header, separators=(",", ":")).encode("utf-8")) + "."
                         + _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8")))
        der = self.key.sign(signing_input.encode("ascii"), self._ec.ECDSA(self._hashes.SHA256()))
        r_value, s_value = decode_dss_signature(der)
        return signing_input + "." + _b64(r_value.to_bytes(32, "big") + s_value.to_bytes(32, "big"))


class TokenServer:
    """Answers the realm. ``answer`` runs with the simulator lock held."""

    def __init__(self, key=None, real=time.time):
        self.key = key or SigningKey()
        self._real = real
        self.write_tokens = {}  # registry name -> latest simulated expiry of a token granting push
        self.issued = []  # (account user, access) of every token, for tests

    def reset(self):
        self.write_tokens = {}
        self.issued = []

    def write_tokens_expire_at(self, registry):
        """Simulated time when the last token granting ``push`` on ``registry`` expires (0 when none)."""
        return self.write_tokens.get(registry, 0.0)

    @staticmethod
    def _basic(header):
        if not header or header[:6].lower() != "basic ":
            return None, None
        try:
            user, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").split(":", 1)
        except (ValueError, UnicodeError):
            return None, None
        return user, password

    def answer(self, account, authorization, query_pairs):
        """``(status, body)`` for ``GET /registry/token``."""
        user, password = self._basic(authorization)
        if user is None:
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "docker credentials required (basic auth)"}]}
        cred = account.credentials.get(user)
        if cred is None or cred["password"] != password:
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "unknown docker credentials"}]}
        now = account.now()
        if cred["expires_at"] is not None and now >= cred["expires_at"]:
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "docker credentials expired"}]}
        services = [value for key, value in query_pairs if key == "service"]
        if services and services[-1] != SERVICE:
            return 400, {"errors": [{"code": "UNSUPPORTED", "message": "unknown service %r" % services[-1]}]}
        access = []
        for key, value in query_pairs:
            if key != "scope":
                continue
            for scope in value.split(" "):
                granted = self._grant(account, cred, scope)
                if granted:
                    access.append(granted)
        real_now = int(self._real())
        claims = {"iss": ISSUER, "sub": user, "aud": SERVICE, "iat": real_now, "nbf": real_now - 5,
                  "exp": real_now + TOKEN_SECONDS, "jti": uuid.uuid4().hex, "access": access}
        for item in access:
            if "push" in item["actions"]:
                registry = item["name"].split("/", 1)[0]
                self.write_tokens[registry] = max(self.write_tokens.get(registry, 0.0), now + TOKEN_SECONDS)
        self.issued.append({"user": user, "access": access})
        token = self.key.sign(claims)
        issued_at = datetime.datetime.fromtimestamp(real_now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 200, {"token": token, "access_token": token, "expires_in": TOKEN_SECONDS, "issued_at": issued_at}

    @staticmethod
    def _grant(account, cred, scope):
        """The access entry granted for one ``repository:NAME:ACTIONS`` scope, or None."""
        match = SCOPE_RE.match(scope)
        if not match:
            return None
        name, actions = match.group(1), set(match.group(2).split(","))
        registry = name.split("/", 1)[0]
        if "/" not in name or registry != cred["registry"] or registry not in account.registries:
            return None
        granted = []
        if actions & {"pull", "*"}:
            granted.append("pull")
        if actions & {"push", "*"} and cred["read_write"] and not account.read_only(registry):
            granted.append("push")
        if not granted:
            return None
        return {"type": "repository", "name": name, "actions": granted}
