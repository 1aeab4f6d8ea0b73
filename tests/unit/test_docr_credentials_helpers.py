"""docr_credentials with docker credential helpers (credsStore / credHelpers), through a real helper program."""

import base64
import json
import os
import sys

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _credentials as cred
from ansible_collections.dockyard.docr.plugins.modules import docr_credentials
from pull_secret_schema import assert_valid_pull_secret

HOST = "registry.digitalocean.com"
FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files")


@pytest.fixture
def helper(tmp_path, monkeypatch):
    """``docker-credential-docrtest`` on PATH, storing into a file; returns (store path, argv log path)."""
    store = tmp_path / "helper-store.json"
    # the helper's shebang is `env python`: this interpreter's folder comes first, so it finds one
    path = [FILES, os.path.dirname(sys.executable), os.environ.get("PATH", "")]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    monkeypatch.setenv("DOCR_TEST_HELPER_STORE", str(store))
    return store, tmp_path / "helper-store.json.argv"


def seed(sim):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "fra1"}]})


def issue_calls(sim):
    return [r for r in sim.requests() if r["path"].endswith("/docker-credentials")]


def user_of(sim):
    """The user name of the last credential the simulator issued."""
    return sim.state()["credentials"][-1]["user"]


def write_config(dest, data):
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(data))


def test_creds_store_stores_through_the_helper(sim, api, run_module, tmp_path, helper):
    store, argv_log = helper
    seed(sim)
    dest = tmp_path / "docker" / "config.json"
    write_config(dest, {"auths": {"ghcr.io": {"auth": "Z2g6eA=="}}, "credsStore": "docrtest"})

    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), kubernetes_secret={"name": "pull"}),
                     check_mode=True, diff=True)
    assert res["changed"] is True and res["credential_helper"] == "docrtest" and not store.exists()
    assert res["diff"]["after"]["credential_helper"] == "docrtest" and issue_calls(sim) == []

    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), kubernetes_secret={"name": "pull"}))
    assert res["changed"] is True and res["issued"] is True and res["credential_helper"] == "docrtest"
    held = json.loads(store.read_text())[HOST]
    assert held["Username"] == user_of(sim) and len(held["Secret"]) >= 32
    config = json.loads(dest.read_text())
    # docker ignores an inline entry under credsStore: the file holds an empty one, as docker login writes
    assert config["auths"][HOST] == {} and config["auths"]["ghcr.io"] == {"auth": "Z2g6eA=="}
    assert config[cred.MARKER_KEY][HOST]["credential_helper"] == "docrtest"
    assert held["Secret"] not in dest.read_text()
    # the secret travelled on stdin only: the helper's argv never held it
    assert [json.loads(line) for line in argv_log.read_text().splitlines()] == [["store"]]
    auth = base64.b64encode(("%s:%s" % (held["Username"], held["Secret"])).encode()).decode()
    secret = json.loads(base64.b64decode(res["kubernetes_secret"]["data"][".dockerconfigjson"]))
    assert secret == {"auths": {HOST: {"auth": auth}}}
    assert_valid_pull_secret(res["kubernetes_secret"])

    # second run: the helper still holds them (asked with `get`), nothing issued, nothing written
    before = dest.read_text()
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), kubernetes_secret={"name": "pull"}))
    assert res["changed"] is False and res["issued"] is False and len(issue_calls(sim)) == 1
    assert dest.read_text() == before and res["kubernetes_secret"]["data"] == secret_of_result(auth)
    assert [json.loads(line) for line in argv_log.read_text().splitlines()] == [["store"], ["get"]]

    # someone erased them from the helper: issued and stored again
    store.write_text("{}")
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    assert res["changed"] is True and res["issued"] is True and HOST in json.loads(store.read_text())


def secret_of_result(auth):
    payload = json.dumps({"auths": {HOST: {"auth": auth}}}, sort_keys=True, separators=(",", ":"))
    return {".dockerconfigjson": base64.b64encode(payload.encode()).decode()}


def test_cred_helpers_for_the_host_and_inline_elsewhere(sim, api, run_module, tmp_path, helper):
    store, _argv = helper
    seed(sim)
    dest = tmp_path / "config.json"
    write_config(dest, {"credHelpers": {"gcr.io": "gcloud"}})
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    assert res["credential_helper"] is None and json.loads(dest.read_text())["auths"][HOST]["auth"]

    write_config(dest, {"credHelpers": {HOST: "docrtest"}})
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), credentials_store="helper"))
    assert res["changed"] is True and res["credential_helper"] == "docrtest" and HOST in json.loads(store.read_text())


def test_inline_refused_when_a_helper_is_configured(sim, api, run_module, tmp_path, helper):
    store, _argv = helper
    seed(sim)
    dest = tmp_path / "config.json"
    write_config(dest, {"credsStore": "desktop"})
    before = dest.read_text()
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), credentials_store="inline"))
    assert res.failed and "credsStore" in res["msg"] and "credentials_store" in res["msg"] and "ignores" in res["msg"]
    assert dest.read_text() == before and issue_calls(sim) == [] and not store.exists()


def test_helper_mode_needs_a_helper_and_a_program(sim, api, run_module, tmp_path, helper):
    seed(sim)
    dest = tmp_path / "config.json"
    write_config(dest, {})
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), credentials_store="helper"))
    assert res.failed and "credentials_store=helper" in res["msg"] and issue_calls(sim) == []

    write_config(dest, {"credsStore": "nosuchhelper"})
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    assert res.failed and "docker-credential-nosuchhelper is not on PATH" in res["msg"]
    assert cred.MARKER_KEY not in json.loads(dest.read_text())


def test_helper_failure_is_reported_without_the_secret(sim, api, run_module, tmp_path, helper, monkeypatch):
    seed(sim)
    dest = tmp_path / "config.json"
    write_config(dest, {"credsStore": "docrtest"})
    monkeypatch.setenv("DOCR_TEST_HELPER_FAIL", "1")
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    assert res.failed and "docker-credential-docrtest store failed" in res["msg"] and "keychain locked" in res["msg"]
    assert json.loads(dest.read_text()) == {"credsStore": "docrtest"}
