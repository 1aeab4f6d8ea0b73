"""End to end with a real registry (CNCF distribution) and a real OCI client (skopeo), through the collection's modules.

What the simulator models is checked against what really happens: the credentials docr_credentials writes push
(read-write) or are refused (read-only, expired, during a GC); retention's deletions stop tags resolving while kept
and protected ones still pull; GC's freed bytes are the bytes gone from the registry's disk.
"""

import base64
import json
import os
import sys

import pytest

import support
from support import run, schema
from oci import write_image

from ansible_collections.dockyard.docr.plugins.modules import (
    docr_credentials, docr_gc, docr_gc_info, docr_registry, docr_registry_info, docr_retention,
)

REGISTRY = "acme"


def ok(result):
    assert not result.failed, result.get("msg")
    return result


def create_registry(e2e):
    return ok(run(docr_registry, dict(e2e.api, name=REGISTRY, region="fra1", subscription_tier="basic")))


def credentials(e2e, dest, **kwargs):
    return ok(run(docr_credentials, dict(e2e.api, registry=REGISTRY, dest=str(dest), **kwargs)))


def image(tmp_path, ref, size=6000):
    """A one-layer image of ``size`` random bytes in the test's OCI layout; returns (layout, manifest digest)."""
    layout = tmp_path / "layout"
    return layout, write_image(str(layout), ref, {"payload/%s.bin" % ref: os.urandom(size)})


def pushed(e2e, tmp_path, authfile, ref, image_name, size=6000):
    layout, digest = image(tmp_path, ref, size)
    code, out = e2e.skopeo.push(layout, ref, image_name, authfile)
    assert code == 0, out
    return digest


def test_credentials_push_pull_and_refusals(e2e, tmp_path):
    created = create_registry(e2e)
    assert created["changed"] is True
    rw, ro, short = tmp_path / "rw" / "config.json", tmp_path / "ro" / "config.json", tmp_path / "short" / "config.json"
    res = credentials(e2e, rw, read_write=True, expiry_seconds=900)
    # the credentials name the data plane, and the file works unchanged with skopeo --authfile
    assert res["registry_host"] == e2e.address and res["server_url"] == "%s/%s" % (e2e.address, REGISTRY)
    assert oct(rw.stat().st_mode & 0o777) == "0o600" and e2e.address in json.loads(rw.read_text())["auths"]
    assert credentials(e2e, rw, read_write=True, expiry_seconds=900)["changed"] is False  # idempotent on this host
    credentials(e2e, ro)

    digest = pushed(e2e, tmp_path, rw, "v1", "acme/web:v1")
    assert e2e.skopeo.digest("acme/web:v1", ro)[0] == digest  # read-only credentials pull
    code, out = e2e.skopeo.pull("acme/web:v1", ro, tmp_path / "pulled")
    assert code == 0, out

    layout, _digest = image(tmp_path, "v2")
    code, out = e2e.skopeo.push(layout, "v2", "acme/web:v2", ro)
    assert code != 0 and "denied" in out  # read-only credentials cannot push
    assert e2e.skopeo.digest("acme/web:v2", rw)[0] is None

    # credentials issued for another registry of the account get nothing here
    ok(run(docr_registry, dict(e2e.api, name="other", region="fra1", subscription_tier="professional")))
    other = tmp_path / "other" / "config.json"
    ok(run(docr_credentials, dict(e2e.api, registry="other", read_write=True, dest=str(other))))
    code, out = e2e.skopeo.push(layout, "v2", "acme/web:v2", other)
    assert code != 0 and "denied" in out

    # expired credentials (simulated clock) are refused by the token server: neither push nor pull
    credentials(e2e, short, read_write=True, expiry_seconds=60)
    assert e2e.skopeo.push(layout, "v2", "acme/web:v2", short)[0] == 0
    e2e.sim.advance(61)
    code, out = e2e.skopeo.push(layout, "v2", "acme/web:v3", short)
    assert code != 0 and ("unauthorized" in out or "authentication required" in out), out
    assert e2e.skopeo.digest("acme/web:v1", short)[0] is None
    nobody = tmp_path / "nobody.json"
    nobody.write_text('{"auths": {}}')
    assert e2e.skopeo.digest("acme/web:v1", nobody)[0] is None

    # what the DOCR API says is what the registry holds
    info = ok(run(docr_registry_info, dict(e2e.api, name=REGISTRY, repositories=True)))
    [registry] = info["registries"]
    [repo] = registry["repositories"]
    assert repo["name"] == "web" and sorted(tag["tag"] for tag in repo["tags"]) == ["v1", "v2"]
    assert dict((tag["tag"], tag["manifest_digest"]) for tag in repo["tags"])["v1"] == digest
    assert registry["storage_usage_bytes"] == sum(e2e.blob_bytes().values())

    # a pull secret: valid for Kubernetes, and its docker config pulls from the registry as it is
    res = credentials(e2e, tmp_path / "k8s" / "config.json", kubernetes_secret={"name": "docr-pull", "namespace": "apps"})
    schema.assert_valid_pull_secret(res["kubernetes_secret"])
    authfile = tmp_path / "from-secret.json"
    authfile.write_bytes(base64.b64decode(res["kubernetes_secret"]["data"][".dockerconfigjson"]))
    assert e2e.skopeo.digest("acme/web:v1", authfile)[0] == digest

    # the token server granted push only to read-write credentials of this registry
    pushes = [grant for token in e2e.tokens() for grant in token["access"] if "push" in grant["actions"]]
    assert pushes and all(grant["name"].startswith("acme/") for grant in pushes)


def gc_state(e2e):
    return e2e.sim.state()["gcs"][0]


def test_push_refused_during_gc_and_gc_frees_real_bytes(e2e, tmp_path):
    create_registry(e2e)
    rw = tmp_path / "rw.json"
    credentials(e2e, rw, read_write=True)
    old = pushed(e2e, tmp_path, rw, "v1", "acme/web:v1", size=20000)
    new = pushed(e2e, tmp_path / "b", rw, "v1", "acme/web:v1", size=3000)  # v1 moves: the old manifest is untagged
    kept = pushed(e2e, tmp_path, rw, "v2", "acme/web:v2", size=4000)
    before = e2e.blob_bytes()

    res = ok(run(docr_gc, dict(e2e.api, registry=REGISTRY, type="untagged_manifests_and_unreferenced_blobs", wait=False)))
    assert res["changed"] is True
    layout, _digest = image(tmp_path, "v3")
    code, out = e2e.skopeo.push(layout, "v3", "acme/web:v3", rw)
    assert code != 0 and "denied" in out  # the registry is read-only for real: no push scope while a GC is active

    # the GC waits out the last write token it issued (300 s), not just the default 60 s phase
    e2e.sim.advance(100)
    assert gc_state(e2e)["status"] == "waiting for write JWTs to expire"
    e2e.sim.advance(250)
    assert gc_state(e2e)["status"] not in ("requested", "waiting for write JWTs to expire")
    e2e.sim.advance(120)
    info = ok(run(docr_gc_info, dict(e2e.api, registry=REGISTRY)))
    assert info["active_garbage_collection"] is None
    done = info["last_succeeded"]
    after = e2e.blob_bytes()
    gone = set(before) - set(after)
    # the freed bytes are the bytes gone from the registry's disk: the old manifest, its config and its layer
    assert done["blobs_deleted"] == len(gone) == 3 and old in gone
    assert done["freed_bytes"] == sum(before[blob] for blob in gone) > 20000
    assert not set(after) - set(before)

    assert e2e.skopeo.digest("acme/web:v1", rw)[0] == new and e2e.skopeo.digest("acme/web:v2", rw)[0] == kept
    assert e2e.skopeo.digest("acme/web@" + old, rw)[0] is None
    assert e2e.skopeo.push(layout, "v3", "acme/web:v3", rw)[0] == 0  # writable again after the GC


def test_retention_deletes_for_real_and_gc_frees_them(e2e, tmp_path):
    create_registry(e2e)
    rw = tmp_path / "rw.json"
    credentials(e2e, rw, read_write=True, expiry_seconds=86400)
    digests = {}
    for number in range(1, 6):
        digests["v%d" % number] = pushed(e2e, tmp_path / str(number), rw, "v%d" % number, "acme/web:v%d" % number)
        e2e.sim.advance(3600)  # one push an hour: their update times order them
    layout = tmp_path / "1" / "layout"
    code, out = e2e.skopeo.push(layout, "v1", "acme/web:stable", rw)  # stable is v1's image
    assert code == 0, out
    e2e.sim.advance(3600)

    res = ok(run(docr_retention, dict(e2e.api, registry=REGISTRY, keep_last=2, protect=["^stable$"])))
    deleted = sorted(item["tag"] for item in res["deleted"])
    assert deleted == ["v2", "v3"], res["deleted"]  # v4, v5 are the newest two; v1 shares stable's protected image
    assert ok(run(docr_retention, dict(e2e.api, registry=REGISTRY, keep_last=2, protect=["^stable$"])))["changed"] is False
    for tag in deleted:
        assert e2e.skopeo.digest("acme/web:" + tag, rw)[0] is None  # the deleted tag no longer resolves
    for tag in ("v1", "v4", "v5", "stable"):
        code, out = e2e.skopeo.pull("acme/web:" + tag, rw, tmp_path / ("pulled-" + tag))
        assert code == 0, out  # every kept and protected tag still pulls

    before = e2e.blob_bytes()
    res = ok(run(docr_gc, dict(e2e.api, registry=REGISTRY, type="untagged_manifests_and_unreferenced_blobs",
                               wait=False)))
    e2e.sim.advance(1000)
    done = ok(run(docr_gc_info, dict(e2e.api, registry=REGISTRY)))["last_succeeded"]
    after = e2e.blob_bytes()
    assert done["freed_bytes"] == sum(size for blob, size in before.items() if blob not in after) > 12000
    assert done["blobs_deleted"] == 6  # two manifests, two configs, two layers
    assert digests["v2"] not in after and digests["v3"] not in after and digests["v1"] in after
    usage = ok(run(docr_registry_info, dict(e2e.api, name=REGISTRY)))["registries"][0]["storage_usage_bytes"]
    assert usage == sum(after.values())


def test_credential_helper_stored_credentials_push(e2e, tmp_path, monkeypatch):
    """docr_credentials stores through the helper dest names; skopeo, reading the same config.json, asks it back."""
    store = tmp_path / "helper-store.json"
    path = [str(support.REPO_ROOT / "tests" / "unit" / "files"), os.path.dirname(sys.executable), os.environ["PATH"]]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    monkeypatch.setenv("DOCR_TEST_HELPER_STORE", str(store))
    e2e.skopeo.env.update(PATH=os.environ["PATH"], DOCR_TEST_HELPER_STORE=str(store))
    create_registry(e2e)
    dest = tmp_path / "docker" / "config.json"
    dest.parent.mkdir()
    dest.write_text(json.dumps({"credHelpers": {e2e.address: "docrtest"}}))
    res = credentials(e2e, dest, read_write=True)
    assert res["credential_helper"] == "docrtest" and json.loads(dest.read_text())["auths"][e2e.address] == {}
    assert e2e.address in json.loads(store.read_text())
    pushed(e2e, tmp_path, dest, "v1", "acme/web:v1")
    calls = [json.loads(line) for line in (tmp_path / "helper-store.json.argv").read_text().splitlines()]
    assert calls[0] == ["store"] and ["get"] in calls[1:]  # skopeo asked the helper
    store.write_text("{}")  # the helper forgot them: the inline-less config.json logs nobody in
    assert e2e.skopeo.digest("acme/web:v1", dest)[0] is None


@pytest.mark.parametrize("gc_type", ["untagged_manifests_only", "unreferenced_blobs_only"])
def test_gc_types(e2e, tmp_path, gc_type):
    create_registry(e2e)
    rw = tmp_path / "rw.json"
    credentials(e2e, rw, read_write=True)
    old = pushed(e2e, tmp_path, rw, "v1", "acme/web:v1")
    pushed(e2e, tmp_path / "b", rw, "v1", "acme/web:v1")
    before = e2e.blob_bytes()
    ok(run(docr_gc, dict(e2e.api, registry=REGISTRY, type=gc_type, wait=False)))
    e2e.sim.advance(1000)
    done = ok(run(docr_gc_info, dict(e2e.api, registry=REGISTRY)))["last_succeeded"]
    manifests = e2e.sim.state()["registries"][0]["repositories"][0]["manifests"]
    if gc_type == "untagged_manifests_only":
        # the untagged manifest is gone, its blobs stay on disk until a blob GC
        assert old not in [man["digest"] for man in manifests] and e2e.skopeo.digest("acme/web@" + old, rw)[0] is None
        assert done["freed_bytes"] == 0 and e2e.blob_bytes() == before
    else:
        # an untagged manifest is still a manifest: its blobs are referenced and stay
        assert old in [man["digest"] for man in manifests] and e2e.skopeo.digest("acme/web@" + old, rw)[0] == old
        assert done["freed_bytes"] == 0 and e2e.blob_bytes() == before
