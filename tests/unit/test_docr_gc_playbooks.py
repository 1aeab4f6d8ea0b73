"""playbooks/gc.yml and playbooks/credentials.yml, run by FQCN with ansible-playbook against the simulator."""

import json
import os
import stat
import subprocess
import sys

import pytest

from tests.helpers import playbook_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, "collections")
TOKEN = "dop_v1_playbook-test-token-0123456789abcdef"


def playbook(name, tmp_path, extra):
    """Run ``ansible-playbook dockyard.docr.<name>``; return (rc, output)."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_python_interpreter: %s\n" % sys.executable)
    env = playbook_env(None, TOKEN)
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory), "dockyard.docr.%s" % name,
         "-e", json.dumps(extra)],
        cwd=str(tmp_path), env=env, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240,
    )
    out = proc.stdout.decode("utf-8", "replace")
    assert TOKEN not in out
    return proc.returncode, out


@pytest.fixture
def registries(sim):
    sim.seed({"subscription_tier": "professional", "registries": [
        {"name": "pb-one", "region": "fra1", "repositories": [{"name": "web", "manifests": [
            {"size_bytes": 1000, "tags": ["v1"], "updated_at": "2026-01-01T00:00:00Z"},
            {"size_bytes": 3000, "tags": [], "updated_at": "2026-01-01T00:00:00Z"}]}]},
        {"name": "pb-two", "region": "nyc3"},
    ]})
    sim.step_clock(30)   # time moves 30 simulated seconds per API request, not with the real clock
    return sim


def test_gc_playbook_processes_every_registry_and_summarises(registries, tmp_path):
    sim = registries
    summary = tmp_path / "gc.jsonl"
    extra = {"docr_api_url": sim.url, "docr_gc_poll_interval": 0.05, "docr_gc_summary_file": str(summary),
             "docr_gc_registries": ["pb-one", {"name": "pb-missing"}, {"name": "pb-two", "type": "unreferenced_blobs_only"}]}
    rc, out = playbook("gc", tmp_path, extra)
    assert rc != 0, out                                      # one registry failed: the play fails at the end
    assert "Garbage collection failed for 1 registries" in out
    lines = [json.loads(line) for line in summary.read_text().splitlines()]
    assert [line["registry"] for line in lines] == ["pb-one", "pb-missing", "pb-two"]   # ... after processing all
    one, missing, two = lines
    assert one["status"] == "succeeded" and one["freed_bytes"] >= 3000 and one["failed"] is False
    assert one["type"] == "untagged_manifests_and_unreferenced_blobs" and one["skipped"] is False
    assert missing["failed"] is True and "pb-missing" in missing["msg"]
    assert two["type"] == "unreferenced_blobs_only"
    assert set(one) == {"time", "registry", "status", "skipped", "skip_reason", "uuid", "type", "blobs_deleted",
                        "freed_bytes", "failed", "msg"}
    gcs = sim.state()["gcs"]
    assert sorted((g["registry_name"], g["type"], g["status"]) for g in gcs) == [
        ("pb-one", "untagged manifests and unreferenced blobs", "succeeded"),
        ("pb-two", "unreferenced blobs only", "succeeded")]

    # a scheduled re-run with min_interval: skipped, nothing started, play green, summary appended
    extra.update(docr_gc_registries=["pb-one", "pb-two"], docr_gc_min_interval="7d")
    rc, out = playbook("gc", tmp_path, extra)
    assert rc == 0, out
    lines = [json.loads(line) for line in summary.read_text().splitlines()][3:]
    assert [(line["registry"], line["skipped"]) for line in lines] == [("pb-one", True), ("pb-two", True)]
    assert "min_interval" in lines[0]["skip_reason"]
    assert len(sim.state()["gcs"]) == 2


def test_credentials_playbook(registries, tmp_path):
    sim = registries
    dest = tmp_path / "docker" / "config.json"
    secret = tmp_path / "secret.yml"
    extra = {"docr_api_url": sim.url, "docr_credentials_registry": "pb-one", "docr_credentials_dest": str(dest),
             "docr_credentials_secret_name": "docr-pull", "docr_credentials_secret_file": str(secret)}
    rc, out = playbook("credentials", tmp_path, extra)
    assert rc == 0, out
    config = json.loads(dest.read_text())
    auth = config["auths"]["registry.digitalocean.com"]["auth"]
    assert auth not in out                                       # the credentials are not printed
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600 and stat.S_IMODE(os.stat(str(secret)).st_mode) == 0o600
    assert "kubernetes.io/dockerconfigjson" in secret.read_text()
    assert len(sim.state()["credentials"]) == 1
    rc, out = playbook("credentials", tmp_path, extra)
    assert rc == 0 and "Kept the current" in out, out
    assert len(sim.state()["credentials"]) == 1                  # nothing issued the second time
