"""The end-of-session OpenAPI contract check: it accepts good exchanges and catches bad ones."""

import json

import pytest

HEADERS = {"ratelimit-limit": "5000", "ratelimit-remaining": "4999", "ratelimit-reset": "1800000000",
           "Content-Type": "application/json; charset=utf-8"}
REGISTRY = {"name": "acme", "created_at": "2026-11-22T07:36:58Z", "region": "nyc3", "storage_usage_bytes": 0,
            "storage_usage_bytes_updated_at": "2026-11-22T07:36:58Z"}
GC = {"uuid": "eff0feee-49c7-4e8f-ba5c-a320c109c8a8", "registry_name": "acme", "status": "requested",
      "created_at": "2026-11-22T07:36:58Z", "updated_at": "2026-11-22T07:36:58Z", "blobs_deleted": 0, "freed_bytes": 0}


def exchange(method, path, status, body=None, request=None, query=None, headers=None, notes=None, auth=True):
    return {
        "method": method, "path": path, "query": [list(pair) for pair in (query or [])],
        "request_headers": {"content-type": "application/json", "authorization": "Bearer ***" if auth else ""},
        "request_body": json.dumps(request) if request is not None else None,
        "status": status, "response_headers": dict(HEADERS if headers is None else headers),
        "response_body": json.dumps(body) if body is not None else None,
        "dropped": False, "notes": notes or [],
    }


@pytest.fixture(scope="module", name="check")
def check_fixture(openapi_contract):
    contract, spec = openapi_contract
    validator = contract.ContractValidator(spec)

    def run(*exchanges):
        return contract.validate_exchanges(list(exchanges), validator)
    return run


GOOD = [
    exchange("GET", "/v2/registries", 200, {"registries": [REGISTRY]}),
    exchange("POST", "/v2/registries", 201, {"registry": REGISTRY}, request={"name": "acme", "subscription_tier_slug": "basic"}),
    exchange("POST", "/v2/registries", 422, {"id": "unprocessable_entity", "message": "bad name"}, request={"name": "Bad_Name"},
             notes=["invalid_on_purpose"]),
    # a name the spec's pattern accepts and DigitalOcean's documented rule refuses: a valid request, refused
    exchange("POST", "/v2/registries", 422, {"id": "unprocessable_entity", "message": "bad name"}, request={"name": "9reg"}),
    exchange("GET", "/v2/registries", 401, {"id": "unauthorized", "message": "Unable to authenticate you."}, auth=False),
    exchange("DELETE", "/v2/registries/acme", 204),
    exchange("GET", "/v2/registries/acme/docker-credentials", 200,
             {"auths": {"registry.digitalocean.com": {"auth": "dXNlcjpwYXNz"}}},
             query=[("read_write", "true"), ("expiry_seconds", "3600")]),
    exchange("POST", "/v2/registries/acme/garbage-collection", 201, {"garbage_collection": GC},
             request={"type": "unreferenced blobs only"}),
    exchange("POST", "/v2/registries/acme/garbage-collection", 201, {"garbage_collection": GC}),
    exchange("GET", "/v2/registries/acme/repositoriesV2", 400, {"id": "bad_request", "message": "per_page"},
             query=[("per_page", "500")], notes=["invalid_on_purpose"]),
    exchange("GET", "/v2/registries", 503, {"id": "service_unavailable", "message": "injected"}, notes=["fault"]),
]


@pytest.mark.parametrize("good", GOOD, ids=["%s %s %s" % (g["method"], g["path"], g["status"]) for g in GOOD])
def test_accepts_good_exchanges(check, good):
    report = check(good)
    assert report.ok, report.lines()
    assert report.checked == 1


BAD = {
    "body schema": exchange("GET", "/v2/registries", 200, {"registries": [dict(REGISTRY, storage_usage_bytes="lots")]}),
    "name pattern in a response": exchange("GET", "/v2/registries/acme", 200, {"registry": dict(REGISTRY, name="Not Valid")}),
    "missing rate-limit headers": exchange("GET", "/v2/registries", 200, {"registries": []},
                                           headers={"Content-Type": "application/json"}),
    "error without id": exchange("GET", "/v2/registries/acme", 404, {"message": "missing"}),
    "undeclared query": exchange("GET", "/v2/registries", 200, {"registries": []}, query=[("page_tokn", "x")]),
    "served an invalid request": exchange("POST", "/v2/registries", 201, {"registry": REGISTRY}, request={"name": "Bad_Name"}),
    "served without auth": exchange("GET", "/v2/registries", 200, {"registries": []}, auth=False),
    "unknown GC type": exchange("POST", "/v2/registries/acme/garbage-collection", 201, {"garbage_collection": GC},
                                request={"type": "everything"}),
    "body on a bodiless operation": exchange("DELETE", "/v2/registries/acme", 204, request={"force": True}),
    "path not in the spec": exchange("GET", "/v2/registries/acme/secrets", 200, {"secrets": []}),
    "GC status not in the enum": exchange("GET", "/v2/registries/acme/garbage-collection", 200,
                                          {"garbage_collection": dict(GC, status="paused")}),
    "legacy GC type spelling on the legacy endpoint": exchange(
        "POST", "/v2/registry/acme/garbage-collection", 201, {"garbage_collection": GC}, request={"type": "untagged_manifests_only"}),
    # requests the spec rejects are violations even when the simulator refused them (Prism: "Invalid request")
    "refused, but the request was invalid": exchange(
        "POST", "/v2/registries", 422, {"id": "unprocessable_entity", "message": "bad name"}, request={"name": "Bad_Name"}),
    "refused, with an undeclared query parameter": exchange(
        "GET", "/v2/registries", 400, {"id": "bad_request", "message": "?"}, query=[("page_tokn", "x")]),
    "refused, per_page over the spec's maximum": exchange(
        "GET", "/v2/registries/acme/repositoriesV2", 400, {"id": "bad_request", "message": "per_page"}, query=[("per_page", "500")]),
    "underscore GC type on the multi-registry endpoint": exchange(
        "POST", "/v2/registries/acme/garbage-collection", 201, {"garbage_collection": GC}, request={"type": "unreferenced_blobs_only"}),
    "allowed GC body with an extra key": exchange(
        "POST", "/v2/registries/acme/garbage-collection", 201, {"garbage_collection": GC},
        request={"type": "unreferenced blobs only", "force": True}),
    "allowed credentials query with a bad value": exchange(
        "GET", "/v2/registries/acme/docker-credentials", 200, {"auths": {"registry.digitalocean.com": {"auth": "dXNlcjpwYXNz"}}},
        query=[("read_write", "yes"), ("expiry_seconds", "-1")]),
    "credentials extras on an endpoint the allow-list does not name": exchange(
        "GET", "/v2/registries", 200, {"registries": []}, query=[("read_write", "true")]),
    "marked invalid on purpose, but valid": exchange("GET", "/v2/registries", 200, {"registries": []}, notes=["invalid_on_purpose"]),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_catches_violations(check, name):
    report = check(BAD[name])
    assert not report.ok
    assert all(line.startswith("CONTRACT VIOLATION ") for line in report.lines())


def test_invalid_on_purpose_is_reported_as_an_exemption(check):
    report = check(exchange("POST", "/v2/registries", 422, {"id": "unprocessable_entity", "message": "bad"},
                            request={"name": "Bad_Name"}, notes=["invalid_on_purpose"]))
    assert report.ok and len(report.skipped) == 1 and "on purpose" in report.skipped[0]["reason"]
    # the response of such an exchange is still validated
    broken = exchange("POST", "/v2/registries", 422, {"message": "no id"}, request={"name": "Bad_Name"}, notes=["invalid_on_purpose"])
    assert not check(broken).ok


def test_live_marker_is_recorded(sim, check, openapi_contract):
    """A test's on-purpose invalid request reaches the record marked, and only the marked one is exempt."""
    contract, _spec = openapi_contract
    sim.seed({"subscription_tier": "professional", "registries": [{"name": "acme"}]})
    start = len(contract.read_record(sim.record))
    import requests  # pylint: disable=import-outside-toplevel
    http = requests.Session()
    http.trust_env = False
    headers = {"Authorization": "Bearer t", "X-Sim-Invalid-On-Purpose": "1"}
    assert http.get(sim.url + "/v2/registries/acme/repositoriesV2", params={"per_page": 500}, headers=headers,
                    timeout=10).status_code == 400
    (recorded,) = contract.read_record(sim.record)[start:]
    assert recorded["notes"] == ["invalid_on_purpose"]
    assert check(recorded).ok and check(recorded).skipped
    unmarked = dict(recorded, notes=[])
    assert not check(unmarked).ok


def test_forced_gc_status_is_the_only_exemption(check):
    forced = exchange("GET", "/v2/registries/acme/garbage-collection", 200,
                      {"garbage_collection": dict(GC, status="paused for maintenance")}, notes=["forced_gc_status"])
    report = check(forced)
    assert report.ok and len(report.skipped) == 1 and "paused for maintenance" in report.skipped[0]["reason"]
    # the rest of a forced exchange is still validated
    broken = exchange("GET", "/v2/registries/acme/garbage-collection", 200,
                      {"garbage_collection": dict(GC, status="paused", freed_bytes="many")}, notes=["forced_gc_status"])
    assert not check(broken).ok


def test_dropped_connections_are_skipped(check):
    dropped = dict(exchange("GET", "/v2/registries", None), dropped=True, response_headers={}, status=None)
    report = check(dropped)
    assert report.ok and report.skipped and "dropped" in report.skipped[0]["reason"]


def test_live_simulator_exchanges_validate(sim, check, openapi_contract):
    """What the simulator really served, read back from its record file, passes."""
    contract, _spec = openapi_contract
    sim.seed({"subscription_tier": "professional", "registries": [{"name": "acme", "repositories": [
        {"name": "web", "manifests": [{"size_bytes": 10, "tags": ["v1"]}, {"size_bytes": 20}]}]}]})
    start = len(contract.read_record(sim.record))
    import requests  # pylint: disable=import-outside-toplevel
    http = requests.Session()
    http.trust_env = False
    headers = {"Authorization": "Bearer t"}
    for path in ("/v2/registries", "/v2/registries/acme", "/v2/registries/options", "/v2/registries/subscription",
                 "/v2/registries/acme/repositoriesV2", "/v2/registries/acme/repositories/web/tags",
                 "/v2/registries/acme/repositories/web/digests", "/v2/kubernetes/clusters", "/v2/registry"):
        assert http.get(sim.url + path, headers=headers, timeout=10).status_code == 200
    assert http.post(sim.url + "/v2/registries/acme/garbage-collection", headers=headers, timeout=10).status_code == 201
    recorded = contract.read_record(sim.record)[start:]
    assert len(recorded) == 10
    report = check(*recorded)
    assert report.ok, report.lines()


def test_spec_folder_is_where_the_check_looks(openapi_contract):
    _contract, spec = openapi_contract
    assert "/v2/registries/{registry_name}/garbage-collection" in spec["paths"]


def test_spec_copy_matches_its_recorded_checksums():
    """The spec subset lives in the repository; SOURCE.md records its sha256 sums, and they hold."""
    import hashlib
    import re
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "openapi"
    recorded = dict((name, digest) for digest, name in
                    re.findall(r"^([0-9a-f]{64})  (\S+)$", (folder / "SOURCE.md").read_text(), re.M))
    assert sorted(recorded) == ["registry-operations.index.json", "registry-subset.bundled.json"]
    for name, digest in recorded.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
