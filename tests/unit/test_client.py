"""The API core against the simulator: errors, not-found values, retries, pagination, URL guard."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.dockyard.docr.plugins.module_utils import _client
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError, DocrError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN = "dop_v1_client-test-token-0123456789abcdef"


class RecordingSleep(object):
    def __init__(self):
        self.waits = []

    def __call__(self, seconds):
        self.waits.append(seconds)


def make(sim, retries=3, timeout=5):
    sleep = RecordingSleep()
    return _client.DocrClient(TOKEN, sim.url, http_timeout=timeout, http_retries=retries, sleep=sleep), sleep


def test_version_matches_galaxy():
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        assert yaml.safe_load(handle)["version"] == _client.COLLECTION_VERSION


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "https://api.digitalocean.com"])
def test_allowed_urls(url):
    assert _client.check_api_url(url) == url


@pytest.mark.parametrize("url", ["http://api.digitalocean.com", "http://10.0.0.1", "ftp://127.0.0.1", "api.digitalocean.com", ""])
def test_refused_urls(url):
    with pytest.raises(DocrError):
        _client.check_api_url(url)


def test_missing_is_none_and_user_agent(sim):
    api, _sleep = make(sim)
    assert api.call("registries.get", "nothing-here") is None
    with pytest.raises(DocrApiError) as err:
        api.call("registries.get", "nothing-here", missing_ok=False)
    assert err.value.status_code == 404 and err.value.error_id == "not_found"
    assert api.rate_limit.get("limit") and api.server_time


def test_get_retries_5xx_with_backoff(sim):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "nyc3"}]})
    sim.fault(method="GET", path="/v2/registries/acme", status=502, times=2)
    api, sleep = make(sim)
    assert api.call("registries.get", "acme")["registry"]["name"] == "acme"
    assert len(sleep.waits) == 2 and sleep.waits[1] > sleep.waits[0]
    statuses = [r["status"] for r in sim.requests() if r["path"] == "/v2/registries/acme"]
    assert statuses == [502, 502, 200]


def test_retry_after_is_honoured(sim):
    sim.fault(method="GET", path="/v2/registries", status=429, retry_after=7, times=1)
    api, sleep = make(sim)
    assert api.call("registries.list") == {"registries": []}
    assert sleep.waits == [7.0]


def test_gives_up_after_http_retries(sim):
    sim.fault(method="GET", path="/v2/registries", status=503, times=10)
    api, sleep = make(sim, retries=2)
    with pytest.raises(DocrApiError) as err:
        api.call("registries.list")
    assert err.value.status_code == 503 and len(sleep.waits) == 2
    assert len([r for r in sim.requests() if r["path"] == "/v2/registries"]) == 3


def test_create_not_repeated_blindly(sim):
    """A 500 on a create that went through: the read-back finds it, nothing is created twice."""
    sim.seed({"subscription_tier": "professional"})
    sim.fault(method="POST", path="/v2/registries", status=500, times=1, after=True)
    api, _sleep = make(sim)

    def recover():
        return api.call("registries.get", "acme")

    body = api.call("registries.create", {"name": "acme", "region": "nyc3"}, recover=recover)
    assert body["registry"]["name"] == "acme"
    posts = [r for r in sim.requests() if r["method"] == "POST"]
    assert len(posts) == 1


def test_create_without_recover_is_not_repeated_on_5xx(sim):
    sim.seed({"subscription_tier": "professional"})
    sim.fault(method="POST", path="/v2/registries", status=500, times=1)
    api, _sleep = make(sim)
    with pytest.raises(DocrApiError) as err:
        api.call("registries.create", {"name": "acme", "region": "nyc3"})
    assert err.value.status_code == 500
    assert len([r for r in sim.requests() if r["method"] == "POST"]) == 1


def test_create_repeated_after_429(sim):
    sim.seed({"subscription_tier": "professional"})
    sim.fault(method="POST", path="/v2/registries", status=429, retry_after=0, times=1)
    api, _sleep = make(sim)
    assert api.call("registries.create", {"name": "acme", "region": "nyc3"})["registry"]["name"] == "acme"
    assert [r["status"] for r in sim.requests() if r["method"] == "POST"] == [429, 201]


def test_timeout_then_success(sim):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "nyc3"}]})
    # held (not served) until the client has given up on it after its 1 s timeout: no latency to race
    sim.fault(method="GET", path="/v2/registries/acme", hold=True, times=1)
    api, sleep = make(sim, timeout=1)
    assert api.call("registries.get", "acme")["registry"]["name"] == "acme"
    assert len(sleep.waits) == 1
    assert sim.release() == 1


def test_dropped_connection_then_success(sim):
    sim.fault(method="GET", path="/v2/registries", drop=True, times=1)
    api, sleep = make(sim)
    assert api.call("registries.list") == {"registries": []}
    assert len(sleep.waits) == 1


def test_pagination_by_page_token(sim):
    sim.seed({"subscription_tier": "professional", "registries": [{"name": "acme", "region": "nyc3", "repositories": [
        {"name": "repo-%03d" % i, "manifests": [{"size_bytes": 10, "tags": ["v1"]}]} for i in range(205)]}]})
    api, _sleep = make(sim)
    repos = api.paginate("registries.list_repositories_v2", "repositories", "acme")
    assert sorted(r["name"] for r in repos) == ["repo-%03d" % i for i in range(205)]
    calls = [r for r in sim.requests() if r["path"].endswith("/repositoriesV2")]
    assert len(calls) == 2 and calls[0]["query"].get("per_page") in ("200", 200)


def test_pagination_by_page_number(sim):
    sim.seed({"subscription_tier": "professional", "registries": [{"name": "acme", "region": "nyc3", "repositories": [
        {"name": "web", "manifests": [{"size_bytes": 10, "tags": ["t%03d" % i]} for i in range(450)]}]}]})
    api, _sleep = make(sim)
    tags = api.paginate("registries.list_repository_tags", "tags", "acme", "web")
    assert len(tags) == 450 and len({t["tag"] for t in tags}) == 450
    assert len([r for r in sim.requests() if r["path"].endswith("/tags")]) == 3


def test_error_fields(sim):
    sim.seed({"tokens": [{"token": "reader", "read_only": True}], "subscription_tier": "basic"})
    api = _client.DocrClient("reader", sim.url, http_retries=0)
    with pytest.raises(DocrApiError) as err:
        api.call("registries.create", {"name": "acme"})
    assert err.value.status_code == 403 and err.value.error_id
    assert "read-only" in err.value.msg
    result = err.value.to_result()
    assert result["status_code"] == 403 and "msg" in result and "reader" not in str(result)


def _python(code, tmp_path):
    """Run ``code`` in a fresh interpreter that sees the collection; return its stdout."""
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "collections"))
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path), check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    return proc.stdout


def test_pydo_is_imported_only_when_a_client_is_built(tmp_path):
    out = _python(
        "import sys\n"
        "from ansible_collections.dockyard.docr.plugins.modules import docr_credentials, docr_registry, docr_gc\n"
        "print('pydo' in sys.modules, 'azure.core' in sys.modules)\n"
        "from ansible_collections.dockyard.docr.plugins.module_utils import _client\n"
        "_client.DocrClient('t', 'http://127.0.0.1:9')\n"
        "print('pydo' in sys.modules, 'azure.core' in sys.modules)\n", tmp_path)
    assert out.split() == ["False", "False", "True", "True"]


def test_missing_pydo_is_reported_by_name(tmp_path):
    out = _python(
        "import io, json, sys\n"
        "from contextlib import redirect_stdout\n"
        "sys.modules['pydo'] = None  # import pydo now raises ImportError\n"
        "from ansible.module_utils.testing import patch_module_args\n"
        "from ansible_collections.dockyard.docr.plugins.modules import docr_registry\n"
        "buf = io.StringIO()\n"
        "with patch_module_args({'name': 'acme', 'token': 'secret-value', 'api_url': 'http://127.0.0.1:9'}), redirect_stdout(buf):\n"
        "    try:\n"
        "        docr_registry.main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(buf.getvalue())\n", tmp_path)
    result = json.loads(out)
    assert result["failed"] and "Failed to import the required Python library (pydo)" in result["msg"] and "secret-value" not in out
