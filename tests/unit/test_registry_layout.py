"""The registry_layout role through playbooks/site.yml, run by ansible-playbook against the simulator.

Covers: create from nothing, the no-change re-run (API calls counted, no write), drift restored,
unknown names and co-location failing before any write, allowed cross-region pairs, tier validation,
an entry marked absent, and check mode.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from tests.helpers import PlaybookRun as Run, clusters as clusters_state, playbook_env, registries as registries_state

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, "collections")
TOKEN = "dop_v1_layout-test-token-0123456789abcdef"

SITE = os.path.join(REPO, "playbooks", "site.yml")
EXAMPLE = os.path.join(REPO, "playbooks", "layouts", "example-multi-region.yml")
REGIONS = ("nyc3", "sfo3", "ams3")
# The two readings of a cluster's registry_enabled the simulator models (tests/simulator/README.md).
READINGS = ("mirrors_registries", "legacy_only")


def cluster_id(name):
    digits = hashlib.md5(name.encode()).hexdigest()[:12]
    return "c0ffee00-5e1e-4205-a714-%s" % digits


def seed_clusters(sim, registries=(), tier=None, reading=READINGS[0]):
    seed = dict(doks_registry_enabled=reading, clusters=[
        dict(id=cluster_id("prod-%s-%s" % (r, s)), name="prod-%s-%s" % (r, s), region=r, registries=[])
        for r in REGIONS for s in ("a", "b")
    ])
    if registries:
        seed["registries"] = [dict(name=n, region=r) for n, r in registries]
    if tier:
        seed["subscription_tier"] = tier
    sim.seed(seed)
    sim.clear_requests()


def play(sim, tmp_path, layout=None, check=False, layout_file=None):
    """Run site.yml against the simulator."""
    if layout_file is None:
        layout_file = str(tmp_path / "layout.json")
        with open(layout_file, "w") as handle:
            json.dump(dict(docr_layout=layout), handle)
    env = playbook_env(sim.url, TOKEN)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", SITE,
           "-e", "@" + layout_file, "-e", "ansible_python_interpreter=" + sys.executable]
    if check:
        cmd += ["--check", "--diff"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert TOKEN not in proc.stdout + proc.stderr, "the token leaked into the playbook's output"
    return Run(proc)


def writes(sim):
    return [(r["method"], r["path"]) for r in sim.requests() if r["method"] != "GET"]


def layout(**overrides):
    base = dict(subscription_tier="professional", registries=[
        dict(name="acme-%s" % r, region=r, clusters=["prod-%s-a" % r, "prod-%s-b" % r]) for r in REGIONS
    ])
    base.update(overrides)
    return base


@pytest.mark.parametrize("reading", READINGS)
def test_example_layout_create_rerun_drift(sim, tmp_path, reading):
    # an account on the basic tier with no registry yet: the layout moves it to professional
    seed_clusters(sim, tier="basic", reading=reading)

    # check mode on an empty account: reports the registries to create, writes nothing
    run = play(sim, tmp_path, layout_file=EXAMPLE, check=True)
    assert run.rc == 0, run
    assert run.changed >= 1, run
    assert [w for w in writes(sim) if w[1] != "/v2/registries/validate-name"] == []
    assert registries_state(sim) == {}

    run = play(sim, tmp_path, layout_file=EXAMPLE)
    assert run.rc == 0, run
    assert registries_state(sim) == {"acme-nyc3": "nyc3", "acme-sfo3": "sfo3", "acme-ams3": "ams3"}
    state = clusters_state(sim)
    for region in REGIONS:
        assert state["prod-%s-a" % region] == state["prod-%s-b" % region] == ["acme-%s" % region]
    assert "professional" in json.dumps(sim.state()["subscription"])
    # the integration of the whole layout: one POST per registry
    assert writes(sim).count(("POST", "/v2/kubernetes/registries")) == 3

    # no-change re-run: nothing changed, no write, two reads (clusters, registries): the registry list carries
    # the subscription tier (before it was used, the tier cost two more: the first registry and the subscription)
    sim.clear_requests()
    run = play(sim, tmp_path, layout_file=EXAMPLE)
    assert run.rc == 0 and run.changed == 0, run
    assert writes(sim) == []
    calls = sim.requests()
    assert [(r["method"], r["path"]) for r in calls] == [("GET", "/v2/kubernetes/clusters"), ("GET", "/v2/registries")]

    # drift: a cluster's integration removed behind Ansible's back is restored
    request = urllib.request.Request(
        sim.url + "/v2/kubernetes/registries", method="DELETE",
        data=json.dumps({"cluster_uuids": [cluster_id("prod-sfo3-b")], "registries": ["acme-sfo3"]}).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()
    assert clusters_state(sim)["prod-sfo3-b"] == []
    sim.clear_requests()
    run = play(sim, tmp_path, layout_file=EXAMPLE)
    assert run.rc == 0 and run.changed == 1, run
    assert "changed: [localhost]" in run.task("Ensure each registry's clusters"), run
    assert writes(sim) == [("POST", "/v2/kubernetes/registries")]
    assert clusters_state(sim)["prod-sfo3-b"] == ["acme-sfo3"]


def test_validation_fails_before_any_write(sim, tmp_path):
    seed_clusters(sim)
    bad = layout(registries=[
        dict(name="acme-nyc3", region="nyc3", clusters=["prod-nyc3-a", "ghost-1"]),
        dict(name="acme-sfo3", region="sfo3", clusters=["prod-ams3-a", "ghost-2"]),
        dict(name="Bad_Name", region="ams3"),
        dict(name="acme-sfo3", region="sfo3"),
    ])
    run = play(sim, tmp_path, bad)
    assert run.rc != 0, run
    msg = run.out
    for needle in ("ghost-1", "ghost-2", "prod-ams3-a", "different regions", "Bad_Name", "more than once"):
        assert needle in msg, (needle, msg)
    assert writes(sim) == []
    assert registries_state(sim) == {}

    # tier: several registries need professional
    sim.clear_requests()
    run = play(sim, tmp_path, layout(subscription_tier="basic"))
    assert run.rc != 0 and "more than one needs docr_layout.subscription_tier: professional" in run.out, run
    assert writes(sim) == []

    # and at most 10
    sim.clear_requests()
    run = play(sim, tmp_path, layout(registries=[dict(name="r%02d" % i, region="nyc3") for i in range(11)]))
    assert run.rc != 0 and "at most 10" in run.out, run
    assert writes(sim) == []


@pytest.mark.parametrize("reading", READINGS)
def test_cross_region_allowed_and_absent_entry(sim, tmp_path, reading):
    seed_clusters(sim, registries=[("acme-nyc3", "nyc3"), ("acme-old", "fra1")], tier="professional", reading=reading)
    # someone integrated the old registry with two clusters
    request = urllib.request.Request(
        sim.url + "/v2/kubernetes/registries", method="POST",
        data=json.dumps({"cluster_uuids": [cluster_id("prod-nyc3-a"), cluster_id("prod-ams3-a")],
                         "registries": ["acme-old"]}).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()
    sim.clear_requests()

    wanted = dict(subscription_tier="professional", registries=[
        dict(name="acme-nyc3", region="nyc3", clusters=["prod-nyc3-a", "prod-ams3-a"], allow_cross_region=True),
        dict(name="acme-old", region="fra1", state="absent"),
    ])
    run = play(sim, tmp_path, wanted)
    assert run.rc == 0, run
    state = clusters_state(sim)
    assert state["prod-nyc3-a"] == ["acme-nyc3"] and state["prod-ams3-a"] == ["acme-nyc3"]
    assert registries_state(sim) == {"acme-nyc3": "nyc3"}

    sim.clear_requests()
    run = play(sim, tmp_path, wanted)
    assert run.rc == 0 and run.changed == 0, run
    assert writes(sim) == []

    # require_colocation: false turns the failure into a warning
    wanted["require_colocation"] = False
    wanted["registries"][0].update(allow_cross_region=False, clusters=["prod-nyc3-a", "prod-ams3-b"])
    run = play(sim, tmp_path, wanted)
    assert run.rc == 0, run
    assert re.search(r"WARNING.*Cross-region.*prod-ams3-b", run.out + run.err, re.S), run
    assert clusters_state(sim)["prod-ams3-b"] == ["acme-nyc3"]
