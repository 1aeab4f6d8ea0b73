"""The simulator's registry token server (tests/simulator/tokenauth.py), without a registry: who gets which grant,
and that the JWT is signed the way distribution verifies it (ES256, the certificate in ``x5c``)."""

import base64
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.simulator.clock import SimClock
from tests.simulator.model import Account
from tests.simulator.tokenauth import ISSUER, SERVICE, TOKEN_SECONDS, TokenServer


def b64decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verified_claims(token, cert_pem):
    """Verify the compact JWS as distribution does (x5c chain to the trusted certificate); return its claims."""
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = json.loads(b64decode(header_b64))
    assert header["alg"] == "ES256"
    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    assert cert == x509.load_pem_x509_certificate(cert_pem)
    raw = b64decode(signature_b64)
    signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    cert.public_key().verify(signature, (header_b64 + "." + claims_b64).encode("ascii"), ec.ECDSA(hashes.SHA256()))
    return json.loads(b64decode(claims_b64))


def basic(auth_value):
    return "Basic " + auth_value


def account_with_registries():
    account = Account(SimClock())
    for name in ("acme", "other"):
        account.create_registry({"name": name, "subscription_tier_slug": "professional"})
    return account


def issue(account, registry, read_write, expiry=0):
    query = {"read_write": "true" if read_write else "false", "expiry_seconds": expiry}
    _status, body = account.docker_credentials(registry, query)
    return next(iter(body["auths"].values()))["auth"]


def grants(server, account, auth, scope="repository:acme/web:pull,push"):
    status, body = server.answer(account, basic(auth), [("service", SERVICE), ("scope", scope)])
    if status != 200:
        return status, None
    return status, verified_claims(body["token"], server.key.cert_pem)["access"]


def test_grants_follow_the_credentials():
    account = account_with_registries()
    server = TokenServer()
    rw, ro = issue(account, "acme", True), issue(account, "acme", False)
    status, body = server.answer(account, basic(rw), [("service", SERVICE), ("scope", "repository:acme/web:pull,push")])
    assert status == 200 and body["expires_in"] == TOKEN_SECONDS and body["token"] == body["access_token"]
    claims = verified_claims(body["token"], server.key.cert_pem)
    assert claims["iss"] == ISSUER and claims["aud"] == SERVICE and claims["exp"] - claims["iat"] == TOKEN_SECONDS
    assert claims["access"] == [{"type": "repository", "name": "acme/web", "actions": ["pull", "push"]}]
    assert grants(server, account, ro) == (200, [{"type": "repository", "name": "acme/web", "actions": ["pull"]}])
    # another registry's repositories, a name outside any registry, a malformed scope: nothing granted
    assert grants(server, account, issue(account, "other", True)) == (200, [])
    assert grants(server, account, rw, "repository:web:pull") == (200, [])
    assert grants(server, account, rw, "registry:catalog:*") == (200, [])
    # unknown, malformed or missing credentials: 401
    assert grants(server, account, base64.b64encode(b"docr-x:nope").decode())[0] == 401
    assert grants(server, account, "%%%")[0] == 401
    assert server.answer(account, None, [])[0] == 401
    assert server.answer(account, basic(rw), [("service", "elsewhere")])[0] == 400


def test_expiry_and_gc_window_on_the_simulated_clock():
    account = account_with_registries()
    server = TokenServer()
    short = issue(account, "acme", True, expiry=60)
    granted_at = account.now()
    assert grants(server, account, short)[1][0]["actions"] == ["pull", "push"]
    account.clock.advance(61)
    assert grants(server, account, short)[0] == 401

    rw = issue(account, "acme", True)
    account.start_gc("acme", {})
    assert grants(server, account, rw) == (200, [{"type": "repository", "name": "acme/web", "actions": ["pull"]}])
    # the GC's wait phase is measured against the last write token granted before it started
    assert server.write_tokens_expire_at("acme") >= granted_at + TOKEN_SECONDS
    assert server.write_tokens_expire_at("other") == 0.0
