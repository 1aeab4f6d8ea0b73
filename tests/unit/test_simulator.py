"""The API simulator's own behaviour, through real HTTP (requests, and pydo for a few calls)."""

import base64
import os
import subprocess
import sys
import time

import pytest
import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN = "dop_v1_simulator-test-token"
DIGEST = "sha256:" + "1" * 64
BLOB = "sha256:" + "a" * 64


class Api:
    """A tiny /v2 client over requests (no retries, nothing hidden)."""

    def __init__(self, url, token=TOKEN):
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False
        self.token = token

    def call(self, method, path, body=None, params=None, token=None, invalid=False):
        """``invalid=True``: the request breaks the spec on purpose (the contract check then exempts it)."""
        headers = {"X-Sim-Invalid-On-Purpose": "1"} if invalid else {}
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = "Bearer " + token
        url = path if path.startswith("http") else self.url + path
        return self.http.request(method, url, json=body, params=params, headers=headers, timeout=10)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body=body, **kw)

    def delete(self, path, body=None, **kw):
        return self.call("DELETE", path, body=body, **kw)


@pytest.fixture(name="api")
def api_fixture(sim):
    return Api(sim.url)


def error(response, status, error_id=None):
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) >= {"id", "message", "request_id"}
    if error_id:
        assert body["id"] == error_id
    return body["message"]


def seed_one(sim, tier="basic", **extra):
    data = {"subscription_tier": tier, "registries": [{"name": "acme", "region": "nyc3"}]}
    data.update(extra)
    return sim.seed(data)


# ---------------------------------------------------------------------- process


def test_process_refuses_non_loopback_and_stops_on_sigterm():
    bad = subprocess.run([sys.executable, "-m", "tests.simulator", "--host", "0.0.0.0", "--port", "0"],
                         cwd=REPO, capture_output=True, timeout=10, check=False)
    assert bad.returncode == 2 and b"loopback" in bad.stderr
    proc = subprocess.Popen([sys.executable, "-m", "tests.simulator", "--port", "0", "--seed",
                             os.path.join(REPO, "tests", "simulator_seeds", "example.yml")],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:")
        state = requests.get(url + "/_sim/state", timeout=5).json()
        assert [r["name"] for r in state["registries"]] == ["acme", "acme-eu"]
        assert state["subscription"]["tier_slug"] == "professional"
    finally:
        proc.terminate()
        assert proc.wait(60) == 0   # it stops on SIGTERM (the bound is generous: a loaded machine is slow)


# ---------------------------------------------------------------------- auth, headers, log


def test_auth_headers_and_request_log(sim, api):
    resp = api.get("/v2/registries", token="")
    error(resp, 401, "unauthorized")
    for name in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "Date", "x-request-id"):
        assert name in resp.headers
    resp = api.get("/v2/registries")
    assert resp.status_code == 200 and resp.json() == {"registries": []}
    assert int(resp.headers["ratelimit-remaining"]) == int(resp.headers["ratelimit-limit"]) - 1
    sim.state()
    log = sim.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [("GET", "/v2/registries", 401), ("GET", "/v2/registries", 200)]
    assert set(log[0]) == {"method", "path", "query", "status", "time"}
    api.get("/v2/registries/acme/repositoriesV2", params={"per_page": 5})
    assert sim.requests()[-1]["query"] == {"per_page": "5"}
    sim.clear_requests()
    assert sim.requests() == [] and sim.writes() == []


def test_token_restrictions(sim, api):
    seed_one(sim, tokens=[{"token": "rw"}, {"token": "ro", "read_only": True}])
    error(api.get("/v2/registries", token="other"), 401, "unauthorized")
    assert api.get("/v2/registries", token="ro").status_code == 200
    error(api.post("/v2/registries/validate-name", {"name": "x"}, token="ro"), 403, "forbidden")
    assert api.post("/v2/registries/validate-name", {"name": "x"}, token="rw").status_code == 204


def test_date_header_follows_the_simulated_clock(sim, api):
    before = api.get("/v2/registries").headers["Date"]
    sim.advance(86400 * 3)
    after = api.get("/v2/registries").headers["Date"]
    assert before != after
    sim.seed({"subscription_tier": "basic"})
    created = api.post("/v2/registries", {"name": "acme"}).json()["registry"]["created_at"]
    assert created.endswith("Z") and len(created) == 20


# ---------------------------------------------------------------------- registries and subscription


def test_names_and_uniqueness(sim, api):
    sim.seed({"taken_names": ["popular"]})
    assert api.post("/v2/registries/validate-name", {"name": "fresh-1"}).status_code == 204
    error(api.post("/v2/registries/validate-name", {"name": "popular"}), 409, "conflict")
    assert "beginning with a letter" in error(api.post("/v2/registries/validate-name", {"name": "Bad_Name"}, invalid=True), 422, "unprocessable_entity")
    error(api.post("/v2/registries", {"name": "x" * 64, "subscription_tier_slug": "basic"}, invalid=True), 422)
    for name in ("9reg", "-x", "reg-", "0"):  # valid for the spec's pattern, refused by the documented rule
        error(api.post("/v2/registries/validate-name", {"name": name}), 422)
        error(api.post("/v2/registries", {"name": name, "subscription_tier_slug": "basic"}), 422)
    error(api.post("/v2/registries", {"name": "popular", "subscription_tier_slug": "basic"}), 409, "conflict")
    resp = api.post("/v2/registries", {"name": "acme", "subscription_tier_slug": "basic"})
    assert resp.status_code == 201 and resp.json()["registry"]["region"] == "nyc3"
    assert set(resp.json()["registry"]) == {"name", "created_at", "region", "storage_usage_bytes", "storage_usage_bytes_updated_at"}
    error(api.post("/v2/registries/validate-name", {"name": "acme"}), 409)
    error(api.post("/v2/registries", {"name": "acme"}), 409)
    error(api.get("/v2/registries/nope"), 404, "not_found")
    error(api.delete("/v2/registries/nope"), 404, "not_found")


def test_subscription_rules_and_multi_registry(sim, api):
    assert api.get("/v2/registries/subscription").json() == {}
    assert "subscription_tier_slug" in error(api.post("/v2/registries", {"name": "acme"}), 422)
    error(api.post("/v2/registries", {"name": "acme", "subscription_tier_slug": "basic", "region": "mars1"}, invalid=True), 422)
    assert api.post("/v2/registries", {"name": "acme", "region": "fra1", "subscription_tier_slug": "basic"}).status_code == 201
    sub = api.get("/v2/registries/subscription").json()["subscription"]
    assert sub["tier"]["slug"] == "basic" and sub["tier"]["included_repositories"] == 5
    assert "differs" in error(api.post("/v2/registries", {"name": "two", "subscription_tier_slug": "starter"}), 422)
    assert "professional" in error(api.post("/v2/registries", {"name": "two"}), 422)
    assert api.post("/v2/registries/subscription", {"tier_slug": "professional"}).json()["subscription"]["tier"]["slug"] == "professional"
    for index in range(2, 11):
        assert api.post("/v2/registries", {"name": "reg-%d" % index, "region": "sfo3"}).status_code == 201
    assert len(api.get("/v2/registries").json()["registries"]) == 10
    assert "at most 10" in error(api.post("/v2/registries", {"name": "eleven"}), 422)
    assert "[OverRegistryLimit]" in error(api.post("/v2/registries/subscription", {"tier_slug": "basic"}), 412)
    assert api.delete("/v2/registries/reg-2").status_code == 204
    assert api.get("/v2/registries/acme").json()["registry"]["region"] == "fra1"
    for index in range(3, 11):
        api.delete("/v2/registries/reg-%d" % index)
    api.delete("/v2/registries/acme")
    assert api.get("/v2/registries").json() == {"registries": []}
    assert api.get("/v2/registries/subscription").json()["subscription"]["tier"]["slug"] == "professional"


def test_options_eligibility_and_downgrade(sim, api):
    seed_one(sim, tier="basic")
    sim.push(registry="acme", repository="web", size_bytes=600 * 1024 * 1024)
    sim.push(registry="acme", repository="api", size_bytes=10)
    options = api.get("/v2/registries/options").json()["options"]
    assert "syd1" in options["available_regions"]
    tiers = dict((tier["slug"], tier) for tier in options["subscription_tiers"])
    assert tiers["starter"]["eligible"] is False
    assert tiers["starter"]["eligibility_reasons"] == ["OverRepositoryLimit", "OverStorageLimit"]
    assert tiers["basic"]["eligible"] and tiers["professional"]["included_repositories"] == 0
    message = error(api.post("/v2/registries/subscription", {"tier_slug": "starter"}), 422)
    assert "OverRepositoryLimit" in message and "OverStorageLimit" in message
    error(api.post("/v2/registries/subscription", {"tier_slug": "gold"}, invalid=True), 422)
    assert api.get("/v2/registries/subscription").json()["subscription"]["tier"]["slug"] == "basic"


def test_push_limits(sim):
    seed_one(sim, tier="starter")
    sim.push(registry="acme", repository="web", size_bytes=100)
    with pytest.raises(sim.Error) as err:
        sim.push(registry="acme", repository="other", size_bytes=100)
    assert err.value.status == 422 and "repository limit" in err.value.body["message"]
    with pytest.raises(sim.Error) as err:
        sim.push(registry="acme", repository="web", size_bytes=501 * 1024 * 1024)
    assert err.value.status == 422 and "storage limit" in err.value.body["message"]
    with pytest.raises(sim.Error) as err:
        sim.push(registry="nope", repository="web")
    assert err.value.status == 404


# ---------------------------------------------------------------------- repositories, tags, manifests


def test_repositories_v2_page_token_pagination(sim, api):
    seed_one(sim, tier="professional", registries=[{"name": "acme", "repositories": [
        {"name": "repo-%d" % index, "manifests": [{"size_bytes": 10, "tags": ["latest"]}]} for index in range(5)]}])
    seen, url, params = [], "/v2/registries/acme/repositoriesV2", {"per_page": 2}
    while url:
        body = api.get(url, params=params).json()
        params = None
        assert body["meta"]["total"] == 5
        seen.extend(repo["name"] for repo in body["repositories"])
        url = body["links"]["pages"].get("next")
        if url:
            assert url.startswith(sim.url + "/v2/registries/acme/repositoriesV2?") and "page_token=" in url
    assert seen == ["repo-%d" % index for index in range(5)]
    first = api.get("/v2/registries/acme/repositoriesV2").json()["repositories"][0]
    assert first["tag_count"] == 1 and first["manifest_count"] == 1 and first["latest_manifest"]["tags"] == ["latest"]
    error(api.get("/v2/registries/acme/repositoriesV2", params={"per_page": 201}, invalid=True), 400)
    error(api.get("/v2/registries/nope/repositoriesV2"), 404)


def test_tags_and_manifests_pagination_and_deletes(sim, api):
    seed_one(sim, tier="basic", registries=[{"name": "acme", "repositories": [{"name": "team/web", "manifests": [
        {"digest": DIGEST, "size_bytes": 1000, "tags": ["v1", "latest"], "blobs": [{"digest": BLOB, "compressed_size_bytes": 900}]},
        {"size_bytes": 50, "tags": ["t1"]}, {"size_bytes": 60, "tags": ["t2"]}, {"size_bytes": 70, "tags": ["t3"]},
    ]}]}])
    base = "/v2/registries/acme/repositories/team%2Fweb"
    page2 = api.get(base + "/tags", params={"per_page": 2, "page": 2}).json()
    assert page2["meta"]["total"] == 5 and len(page2["tags"]) == 2
    assert set(page2["links"]["pages"]) == {"first", "prev", "next", "last"}
    assert page2["links"]["pages"]["last"].startswith(sim.url) and "page=3" in page2["links"]["pages"]["last"]
    digests = api.get(base + "/digests", params={"per_page": 3}).json()
    assert digests["meta"]["total"] == 4 and set(digests["links"]["pages"]) == {"next", "last"}
    assert api.get("/v2/registries/acme").json()["registry"]["storage_usage_bytes"] == 900 + 50 + 60 + 70

    assert api.delete(base + "/tags/v1").status_code == 204
    error(api.delete(base + "/tags/v1"), 404)
    manifest = [m for m in api.get(base + "/digests").json()["manifests"] if m["digest"] == DIGEST][0]
    assert manifest["tags"] == ["latest"] and manifest["blobs"] == [{"digest": BLOB, "compressed_size_bytes": 900}]
    assert api.delete(base + "/digests/" + DIGEST).status_code == 204
    tags = [t["tag"] for t in api.get(base + "/tags").json()["tags"]]
    assert "latest" not in tags and len(tags) == 3
    state = sim.state()["registries"][0]
    assert BLOB in state["blobs"] and BLOB not in state["referenced_blobs"]
    assert api.delete(base).status_code == 204
    assert api.get("/v2/registries/acme/repositoriesV2").json()["meta"]["total"] == 0
    error(api.delete(base), 404)


# ---------------------------------------------------------------------- garbage collection


def gc_path(name="acme"):
    return "/v2/registries/%s/garbage-collection" % name


def test_gc_lifecycle_read_only_and_one_active(sim, api):
    seed_one(sim, tier="basic")
    sim.step_clock(0)   # the clock moves only by sim.advance: each phase is seen however slow the machine
    first = sim.push(registry="acme", repository="web", tag="latest", size_bytes=1000)
    sim.push(registry="acme", repository="web", tag="latest", size_bytes=2000)
    assert api.get("/v2/registries/acme").json()["registry"]["storage_usage_bytes"] == 3000
    error(api.get(gc_path()), 404)
    resp = api.post(gc_path(), {"type": "untagged manifests and unreferenced blobs"})
    assert resp.status_code == 201
    gc = resp.json()["garbage_collection"]
    assert gc["status"] == "requested" and gc["registry_name"] == "acme"
    error(api.post(gc_path()), 409, "conflict")
    with pytest.raises(sim.Error) as err:
        sim.push(registry="acme", repository="web", tag="v2")
    assert err.value.status == 409 and "read-only during garbage collection" in err.value.body["message"]
    error(api.delete("/v2/registries/acme/repositories/web/tags/latest"), 409)
    seen = []
    for step in (5, 60, 30, 30):
        seen.append(api.get(gc_path()).json()["garbage_collection"]["status"])
        sim.advance(step)
    assert seen == ["requested", "waiting for write JWTs to expire", "scanning manifests", "deleting unreferenced blobs"]
    error(api.get(gc_path()), 404)
    done = api.get(gc_path() + "s").json()["garbage_collections"][0]
    assert done["status"] == "succeeded" and done["blobs_deleted"] == 1 and done["freed_bytes"] == 1000
    assert api.get("/v2/registries/acme").json()["registry"]["storage_usage_bytes"] == 2000
    digests = [m["digest"] for m in api.get("/v2/registries/acme/repositories/web/digests").json()["manifests"]]
    assert first["digest"] not in digests and len(digests) == 1
    sim.push(registry="acme", repository="web", tag="v2")
    # the default type (no body) frees unreferenced blobs only: an untagged manifest keeps its blobs
    sim.push(registry="acme", repository="web", tag="v2")
    assert api.post(gc_path()).status_code == 201
    sim.advance(200)
    listing = api.get(gc_path() + "s", params={"per_page": 1}).json()
    assert listing["meta"]["total"] == 2 and listing["garbage_collections"][0]["freed_bytes"] == 0
    assert "next" in listing["links"]["pages"]


def test_gc_cancel_and_admin_hooks(sim, api):
    seed_one(sim, tier="basic")
    sim.push(registry="acme", repository="web", size_bytes=10)
    sim.push(registry="acme", repository="web", size_bytes=10)
    gc = api.post(gc_path(), {"type": "untagged manifests and unreferenced blobs"}).json()["garbage_collection"]
    sim.advance(10)
    resp = api.put(gc_path() + "/" + gc["uuid"], {"cancel": True})
    assert resp.json()["garbage_collection"]["status"] == "cancelling"
    sim.advance(2)
    assert api.get(gc_path() + "s").json()["garbage_collections"][0]["status"] == "cancelled"
    assert sim.state()["registries"][0]["storage_usage_bytes"] == 20
    error(api.put(gc_path() + "/" + gc["uuid"], {"cancel": True}), 409)
    error(api.put(gc_path() + "/nope", {"cancel": True}), 404)
    error(api.post(gc_path(), {"type": "everything"}, invalid=True), 422)

    sim.gc_control(registry="acme", next_outcome="failed")
    # the underscore spelling is not the spec's: refused
    error(api.post(gc_path(), {"type": "unreferenced_blobs_only"}, invalid=True), 422)
    api.post(gc_path(), {"type": "unreferenced blobs only"})
    sim.advance(125)
    assert api.get(gc_path() + "s").json()["garbage_collections"][0]["status"] == "failed"

    gc = api.post(gc_path()).json()["garbage_collection"]
    sim.gc_control(registry="acme", force_status="paused for maintenance")
    sim.advance(1000)
    assert api.get(gc_path()).json()["garbage_collection"]["status"] == "paused for maintenance"
    assert api.put(gc_path() + "/" + gc["uuid"], {"cancel": True}).json()["garbage_collection"]["status"] == "cancelling"
    sim.advance(2)
    error(api.get(gc_path()), 404)
    with pytest.raises(sim.Error):
        sim.gc_control(registry="acme", force_status="scanning manifests")


def test_gc_phase_seconds_are_configurable(sim, api):
    seed_one(sim, gc={"phase_seconds": {"requested": 1, "waiting_for_write_jwts_to_expire": 1,
                                        "scanning manifests": 1, "deleting unreferenced blobs": 1}})
    api.post(gc_path())
    sim.advance(4)
    assert api.get(gc_path() + "s").json()["garbage_collections"][0]["status"] == "succeeded"


# ---------------------------------------------------------------------- docker credentials


def test_credentials_expiry_and_read_only(sim, api):
    seed_one(sim)
    resp = api.get("/v2/registries/acme/docker-credentials", params={"read_write": "true", "expiry_seconds": 60})
    auth = resp.json()["auths"]["registry.digitalocean.com"]["auth"]
    assert ":" in base64.b64decode(auth).decode()
    assert sim.push(registry="acme", repository="web", auth=auth)["tags"] == ["latest"]
    sim.advance(61)
    with pytest.raises(sim.Error) as err:
        sim.push(registry="acme", repository="web", auth=auth)
    assert err.value.status == 401 and "expired" in err.value.body["message"]
    read_only = api.get("/v2/registries/acme/docker-credentials").json()["auths"]["registry.digitalocean.com"]["auth"]
    with pytest.raises(sim.Error) as err:
        sim.push(registry="acme", repository="web", auth=read_only)
    assert err.value.status == 403
    with pytest.raises(sim.Error) as err:
        sim.push(registry="acme", repository="web", auth=base64.b64encode(b"who:me").decode())
    assert err.value.status == 401
    creds = sim.state()["credentials"]
    assert [(c["read_write"], c["expired"]) for c in creds] == [(True, True), (False, False)]
    assert creds[1]["expires_at"] is None and "password" not in creds[0]
    error(api.get("/v2/registries/acme/docker-credentials", params={"expiry_seconds": "soon"}, invalid=True), 400)


# ---------------------------------------------------------------------- legacy endpoints


def test_legacy_endpoints(sim, api):
    error(api.get("/v2/registry"), 404)
    seed_one(sim, tier="professional")
    assert api.get("/v2/registry").json()["registry"]["name"] == "acme"
    assert api.get("/v2/registry/docker-credentials", params={"read_write": "false"}).status_code == 200
    api.post("/v2/registries", {"name": "second"})
    message = error(api.get("/v2/registry"), 412, "precondition_failed")
    assert "multiple registries" in message
    error(api.delete("/v2/registry"), 412)
    error(api.post("/v2/registry/subscription", {"tier_slug": "professional"}), 412)
    assert api.get("/v2/registry/subscription").status_code == 200
    assert api.get("/v2/registry/acme/repositories").json()["meta"]["total"] == 0
    api.delete("/v2/registries/second")
    assert api.delete("/v2/registry").status_code == 204
    assert api.get("/v2/registries").json() == {"registries": []}


# ---------------------------------------------------------------------- DOKS


CLUSTER_A = "6f0e3c1c-1d2e-4a8b-9a55-0d6c2b1f4e01"
CLUSTER_B = "2b8f9d40-77a1-4c3e-8f0e-5a9d3c2e1b02"


def clusters(api):
    return dict((c["id"], c) for c in api.get("/v2/kubernetes/clusters").json()["kubernetes_clusters"])


def test_doks_integration(sim, api):
    sim.seed({"subscription_tier": "professional",
              "registries": [{"name": "acme"}, {"name": "acme-eu", "region": "fra1"}],
              "clusters": [{"id": CLUSTER_A, "name": "prod-a", "region": "nyc3", "registries": ["acme"]},
                           {"id": CLUSTER_B, "name": "prod-b", "region": "fra1"}]})
    found = clusters(api)
    assert found[CLUSTER_A]["registry_enabled"] is True and found[CLUSTER_A]["registries"] == ["acme"]
    assert found[CLUSTER_B]["registry_enabled"] is False and found[CLUSTER_B]["registries"] == []
    page = api.get("/v2/kubernetes/clusters", params={"per_page": 1}).json()
    assert page["meta"]["total"] == 2 and "next" in page["links"]["pages"]
    assert api.get("/v2/kubernetes/clusters/" + CLUSTER_B).json()["kubernetes_cluster"]["name"] == "prod-b"
    error(api.get("/v2/kubernetes/clusters/00000000-0000-4000-8000-000000000000"), 404)

    body = {"cluster_uuids": [CLUSTER_A, CLUSTER_B], "registries": ["acme-eu"]}
    assert api.post("/v2/kubernetes/registries", body).status_code == 204
    found = clusters(api)
    assert found[CLUSTER_A]["registries"] == ["acme", "acme-eu"] and found[CLUSTER_B]["registry_enabled"] is True
    error(api.post("/v2/kubernetes/registries", {"cluster_uuids": [CLUSTER_A], "registries": ["ghost"]}), 404)
    error(api.delete("/v2/kubernetes/registries", {"cluster_uuids": [CLUSTER_A, "00000000-0000-4000-8000-000000000000"],
                                                   "registries": ["acme"]}), 404)
    assert clusters(api)[CLUSTER_A]["registries"] == ["acme", "acme-eu"]
    assert api.delete("/v2/kubernetes/registries", body).status_code == 204
    assert clusters(api)[CLUSTER_B]["registry_enabled"] is False
    error(api.post("/v2/kubernetes/registry", {"cluster_uuids": [CLUSTER_B]}), 412, "precondition_failed")
    api.delete("/v2/registries/acme-eu")
    assert api.post("/v2/kubernetes/registry", {"cluster_uuids": [CLUSTER_B]}).status_code == 204
    assert clusters(api)[CLUSTER_B]["registries"] == ["acme"]
    assert api.delete("/v2/kubernetes/registry", {"cluster_uuids": [CLUSTER_B]}).status_code == 204
    api.delete("/v2/registries/acme")
    assert clusters(api)[CLUSTER_A]["registry_enabled"] is False
    error(api.post("/v2/kubernetes/registry", {"cluster_uuids": [CLUSTER_B]}), 404)
    with pytest.raises(sim.Error) as err:
        sim.seed({"clusters": [{"id": "c1", "name": "x"}]})
    assert err.value.status == 400 and "UUID" in err.value.body["message"]


# ---------------------------------------------------------------------- rate limits


def test_rate_limit_minute_and_hour(sim, api):
    sim.seed({"rate_limit": {"per_minute": 3, "per_hour": 5}})
    for _request in range(3):
        assert api.get("/v2/registries").status_code == 200
    resp = api.get("/v2/registries")
    assert error(resp, 429, "too_many_requests") == "API rate limit exceeded."
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert resp.headers["ratelimit-limit"] == "5" and resp.headers["ratelimit-remaining"] == "2"
    assert int(resp.headers["ratelimit-reset"]) > time.time()
    assert api.get("/v2/registries", token="another-token").status_code == 200
    sim.advance(61)
    assert api.get("/v2/registries").status_code == 200
    assert api.get("/v2/registries").status_code == 200
    error(api.get("/v2/registries"), 429)
    sim.advance(3600)
    assert api.get("/v2/registries").status_code == 200
    sim.configure(rate_limit={"per_minute": 0, "per_hour": 0})
    for _request in range(10):
        assert api.get("/v2/registries").status_code == 200


# ---------------------------------------------------------------------- faults


def test_fault_status_retry_after_and_times(sim, api):
    sim.fault(method="GET", path="/v2/registries", status=503, retry_after=7, times=2)
    assert len(sim.faults()) == 1
    for _attempt in range(2):
        resp = api.get("/v2/registries")
        error(resp, 503, "service_unavailable")
        assert resp.headers["Retry-After"] == "7" and "ratelimit-remaining" in resp.headers
    assert api.get("/v2/registries").status_code == 200
    assert sim.faults() == []
    sim.fault(path_regex=r"^/v2/registries/[^/]+$", status=500, times=5)
    error(api.get("/v2/registries/acme"), 500, "server_error")
    sim.clear_faults()
    error(api.get("/v2/registries/acme"), 404)
    assert [r["status"] for r in sim.requests()] == [503, 503, 200, 500, 404]


def test_fault_latency_drop_and_after(sim, api):
    sim.seed({"subscription_tier": "basic"})
    sim.fault(method="GET", path="/v2/registries", latency=0.3)
    started = time.time()
    assert api.get("/v2/registries").status_code == 200
    assert time.time() - started >= 0.25
    sim.fault(method="GET", path="/v2/registries", drop=True)
    with pytest.raises(requests.ConnectionError):
        api.get("/v2/registries")
    sim.fault(method="POST", path="/v2/registries", status=500, after=True)
    error(api.post("/v2/registries", {"name": "acme"}), 500)
    assert [r["name"] for r in api.get("/v2/registries").json()["registries"]] == ["acme"]
    sim.fault(method="DELETE", path="/v2/registries/acme", drop=True)
    with pytest.raises(requests.ConnectionError):
        api.delete("/v2/registries/acme")
    assert [r["name"] for r in sim.state()["registries"]] == ["acme"], "a drop before serving must change nothing"
    sim.fault(method="DELETE", path="/v2/registries/acme", drop=True, after=True)
    with pytest.raises(requests.ConnectionError):
        api.delete("/v2/registries/acme")
    assert sim.state()["registries"] == []
    assert [r["status"] for r in sim.requests()] == [200, None, 500, 200, None, None]
    with pytest.raises(sim.Error):
        sim.fault(method="GET", path="/v2/registries")


# ---------------------------------------------------------------------- reset and pydo


def test_reset_clears_everything(sim, api):
    seed_one(sim, tokens=["only"], rate_limit={"per_minute": 1})
    sim.fault(path="/v2/registries", status=500, times=3)
    sim.advance(5000)
    sim.set_speed(10)
    sim.reset()
    state = sim.state()
    assert state["registries"] == [] and state["subscription"] is None and state["tokens"] is None
    assert state["clock"]["speed"] == 1.0 and abs(state["clock"]["offset_seconds"]) < 5
    assert sim.faults() == [] and sim.requests() == []
    assert api.get("/v2/registries").status_code == 200


def test_stopped_clock_steps_per_request(sim, api):
    seed_one(sim, tier="basic")
    sim.step_clock(0)
    start = sim.timestamp()
    assert api.post(gc_path()).json()["garbage_collection"]["status"] == "requested"
    assert api.get(gc_path()).json()["garbage_collection"]["status"] == "requested"   # stopped: it stays
    assert sim.timestamp() == start
    clock = sim.step_clock(30)
    assert clock["speed"] == 0 and clock["step"] == 30
    seen = [api.get(gc_path()).json()["garbage_collection"]["status"] for _poll in range(3)]
    assert seen == ["waiting for write JWTs to expire", "waiting for write JWTs to expire", "scanning manifests"]
    assert sim.timestamp() == start + 90          # three API requests; the admin calls do not move it
    sim.advance(60)
    assert sim.timestamp() == start + 150
    sim.reset()
    assert sim.state()["clock"]["step"] == 0 and sim.state()["clock"]["speed"] == 1.0


def test_hold_fault_orders_concurrent_requests(sim, api):
    """A held request waits, served after whatever the test does meanwhile; settle waits for it."""
    import threading  # pylint: disable=import-outside-toplevel

    seed_one(sim, tier="basic")
    sim.fault(method="GET", path="/v2/registries/acme", hold=True, times=1)
    answers = []
    thread = threading.Thread(target=lambda: answers.append(api.get("/v2/registries/acme")))
    thread.start()
    sim.wait_held()
    assert sim.requests() == [] and answers == []          # held before it was served
    assert api.delete("/v2/registries/acme").status_code == 204
    assert sim.release() == 1
    sim.settle()
    thread.join(30)
    assert answers[0].status_code == 404                    # served after the delete
    assert [r["method"] for r in sim.requests()] == ["DELETE", "GET"]
    assert sim.release() == 0


def test_clock_speed(sim):
    sim.set_speed(1000)
    time.sleep(0.05)
    state = sim.state()
    assert state["clock"]["offset_seconds"] > 20


def _pydo_client(url):
    pydo = pytest.importorskip("pydo")
    from azure.core.pipeline.policies import SansIOHTTPPolicy  # pylint: disable=import-outside-toplevel

    class Bearer(SansIOHTTPPolicy):
        def on_request(self, request):
            request.http_request.headers["Authorization"] = "Bearer " + TOKEN

    return pydo.Client(TOKEN, endpoint=url, authentication_policy=Bearer(), retry_total=0)


def test_pydo_calls(sim):
    client = _pydo_client(sim.url)
    assert client.registries.list() == {"registries": []}
    created = client.registries.create({"name": "acme", "region": "ams3", "subscription_tier_slug": "basic"})
    assert created["registry"]["region"] == "ams3"
    missing = client.registries.get("nope")
    assert missing["id"] == "not_found"
    options = client.registries.get_options()
    assert len(options["options"]["subscription_tiers"]) == 3
