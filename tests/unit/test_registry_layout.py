"""The registry_layout role through playbooks/site.yml, run by ansible-playbook against the simulator.

Covers: create from nothing (calls counted against the budget), the no-change re-run (one API task, 2 calls,
no write), drift restored, check mode (the plan alone, no write), a layout with independent problems failing
once naming them all with zero writes, a registry holding images marked absent without force (zero writes,
clusters untouched), allowed cross-region pairs, tier validation, gc settings with schedule_gc.
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
PLAN_TASK = "Read the account and plan the layout"
# The role's tasks that call the API (each skipped when the plan holds nothing for it).
API_TASKS = (PLAN_TASK, "Ensure the registries exist", "Ensure each registry's clusters pull from it",
             "Remove the integration of registries marked absent", "Delete the registries marked absent",
             "Move the subscription tier down")


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


def api_tasks(run):
    """The role's API tasks that ran (ok, changed or failed; not skipped), each as its API_TASKS prefix."""
    names = []
    for section in run.out.split("TASK [")[1:]:
        title = section.split("]", 1)[0]
        body = section.split("\n", 1)[1] if "\n" in section else ""
        name = title.split(" : ", 1)[-1]
        ran = any(word in body for word in ("ok: [", "changed: [", "fatal: [", "failed: ["))
        if ran and name.startswith(API_TASKS):
            names.append(next(prefix for prefix in API_TASKS if name.startswith(prefix)))
    return names


def writes(sim):
    return sim.write_calls()


def layout(**overrides):
    base = dict(subscription_tier="professional", registries=[
        dict(name="acme-%s" % r, region=r, clusters=["prod-%s-a" % r, "prod-%s-b" % r]) for r in REGIONS
    ])
    base.update(overrides)
    return base


def created(sim):
    """Registry creates the API accepted."""
    return len([r for r in sim.requests() if (r["method"], r["path"], r["status"]) == ("POST", "/v2/registries", 201)])


def calls(sim):
    return [(r["method"], r["path"]) for r in sim.requests()]


def budget(registries, registry_sets):
    """The first converge's call budget of issue 15: the plan's 2 reads, 2 calls per new registry (the
    registry list and the create), one integration write per distinct registry set."""
    return 2 + 2 * registries + registry_sets


@pytest.mark.parametrize("reading", READINGS)
def test_example_layout_create_rerun_drift(sim, tmp_path, reading):
    # an account on the basic tier with no registry yet: the layout moves it to professional
    seed_clusters(sim, tier="basic", reading=reading)

    # check mode on an empty account: the plan alone runs, reports the change (with its diff), writes nothing
    run = play(sim, tmp_path, layout_file=EXAMPLE, check=True)
    assert run.rc == 0, run
    assert run.changed == 1 and "changed: [localhost]" in run.task(PLAN_TASK), run
    assert api_tasks(run) == [PLAN_TASK], run
    assert "+    \"acme-sfo3\": \"sfo3\"" in run.out or "acme-sfo3" in run.task(PLAN_TASK), run
    assert writes(sim) == []
    # the lists, and the options only because the layout creates registries (regions DOCR offers)
    assert calls(sim) == [("GET", "/v2/registries"), ("GET", "/v2/kubernetes/clusters"), ("GET", "/v2/registries/options")]
    assert registries_state(sim) == {}

    sim.clear_requests()
    run = play(sim, tmp_path, layout_file=EXAMPLE)
    assert run.rc == 0, run
    assert registries_state(sim) == {"acme-nyc3": "nyc3", "acme-sfo3": "sfo3", "acme-ams3": "ams3"}
    state = clusters_state(sim)
    for region in REGIONS:
        assert state["prod-%s-a" % region] == state["prod-%s-b" % region] == ["acme-%s" % region]
    assert "professional" in json.dumps(sim.state()["subscription"])
    # the integration of the whole layout: one POST per distinct registry set (three here), in one task
    assert writes(sim).count(("POST", "/v2/kubernetes/registries")) == 3
    assert created(sim) == 3
    # the first converge, call by call (docs/performance.md): the plan reads each list once and the options once;
    # then only docr_registry's calls (its own reads and the creates); then the one integration task: its own two
    # reads and one write per distinct registry set (three here). Nothing else is read.
    first = calls(sim)
    assert first[:3] == [("GET", "/v2/registries"), ("GET", "/v2/kubernetes/clusters"), ("GET", "/v2/registries/options")]
    assert first[-5:] == [("GET", "/v2/kubernetes/clusters"), ("GET", "/v2/registries")] + [("POST", "/v2/kubernetes/registries")] * 3
    assert all(path.startswith("/v2/registries") for _method, path in first[3:-5]), first
    # budget(3, 3) = 11, plus the options read, the integration task's two reads and the tier change; what
    # docr_registry reads itself is its own (the count never exceeds what main made: 24)
    assert len(first) <= FIRST_CONVERGE_CALLS, first

    # no-change re-run: one API task, two reads (the registry list carries the subscription), no write
    sim.clear_requests()
    run = play(sim, tmp_path, layout_file=EXAMPLE)
    assert run.rc == 0 and run.changed == 0, run
    assert api_tasks(run) == [PLAN_TASK], run
    assert writes(sim) == []
    assert calls(sim) == [("GET", "/v2/registries"), ("GET", "/v2/kubernetes/clusters")]

    # drift: a cluster's integration removed behind Ansible's back is restored
    request = urllib.request.Request(
        sim.url + "/v2/kubernetes/registries", method="DELETE",
        data=json.dumps({"cluster_uuids": [cluster_id("prod-sfo3-b")], "registries": ["acme-sfo3"]}).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()
    assert clusters_state(sim)["prod-sfo3-b"] == []
    # check mode sees it and writes nothing
    sim.clear_requests()
    run = play(sim, tmp_path, layout_file=EXAMPLE, check=True)
    assert run.rc == 0 and run.changed == 1, run
    assert writes(sim) == [] and clusters_state(sim)["prod-sfo3-b"] == []
    sim.clear_requests()
    run = play(sim, tmp_path, layout_file=EXAMPLE)
    assert run.rc == 0 and run.changed == 1, run
    assert "changed: [localhost]" in run.task("Ensure each registry's clusters"), run
    assert api_tasks(run) == [PLAN_TASK, "Ensure each registry's clusters pull from it"], run
    assert writes(sim) == [("POST", "/v2/kubernetes/registries")]
    assert clusters_state(sim)["prod-sfo3-b"] == ["acme-sfo3"]


# The first converge of the example (3 new registries, 3 distinct registry sets, basic -> professional): 24 calls
# before issue 15, 22 with the plan alone, 18 with docr_registry's two-call create (docs/performance.md).
FIRST_CONVERGE_CALLS = 18


def test_first_converge_reads_each_list_once_in_the_plan(sim, tmp_path):
    # a professional account (no tier change): 2 new registries on 4 clusters, 2 distinct registry sets
    seed_clusters(sim, tier="professional")
    wanted = layout(registries=[dict(name="acme-%s" % r, region=r, clusters=["prod-%s-a" % r, "prod-%s-b" % r])
                                for r in ("nyc3", "ams3")])
    run = play(sim, tmp_path, wanted)
    assert run.rc == 0, run
    first = calls(sim)
    plan, integration = first[:3], first[-4:]
    registry_share = first[3:-4]
    assert plan == [("GET", "/v2/registries"), ("GET", "/v2/kubernetes/clusters"), ("GET", "/v2/registries/options")]
    assert integration == [("GET", "/v2/kubernetes/clusters"), ("GET", "/v2/registries")] + [("POST", "/v2/kubernetes/registries")] * 2
    assert created(sim) == 2 and all(p.startswith("/v2/registries") for _m, p in registry_share)
    # outside docr_registry's own share (2 per registry in the budget): the budget's 2 reads and one write per
    # registry set, plus the options read and the integration task's two reads
    assert len(plan) + len(integration) == budget(2, 2) - 2 * 2 + 3
    assert api_tasks(run) == [PLAN_TASK, "Ensure the registries exist", "Ensure each registry's clusters pull from it"], run


def test_three_independent_problems_fail_once_with_zero_writes(sim, tmp_path):
    seed_clusters(sim, registries=[("acme-nyc3", "nyc3")], tier="professional")
    before = clusters_state(sim)
    bad = layout(registries=[
        dict(name="acme-nyc3", region="nyc3", clusters=["prod-nyc3-a", "ghost-1"]),       # unknown cluster
        dict(name="acme-sfo3", region="sfo3", clusters=["prod-ams3-a"]),                  # cross-region pair
        dict(name="Bad_Name", region="ams3"),                                               # malformed name
        dict(name="acme-fra1", region="nyc33", clusters=["prod-nyc3-b"]),                   # a region DOCR lacks
    ])
    run = play(sim, tmp_path, bad)
    assert run.rc != 0, run
    assert api_tasks(run) == [PLAN_TASK], run
    msg = run.task(PLAN_TASK)
    assert "docr_layout is not valid (4 problems)" in msg, msg
    for needle in ("docr_layout.registries[0].clusters: unknown DOKS cluster 'ghost-1'",
                   "docr_layout.registries[1].clusters: cluster prod-ams3-a (ams3) and registry acme-sfo3 (sfo3)",
                   "docr_layout.registries[2].name 'Bad_Name' is not a valid registry name",
                   "docr_layout.registries[3].region=nyc33 is not a region DOCR offers"):
        assert needle in msg, (needle, msg)
    # the mistyped region is reported as such, not as a cross-region pair
    assert "registry acme-fra1 (nyc33)" not in msg, msg
    assert writes(sim) == []
    assert registries_state(sim) == {"acme-nyc3": "nyc3"} and clusters_state(sim) == before


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
    assert run.rc != 0 and "docr_layout.subscription_tier=basic allows one registry" in run.out, run
    assert writes(sim) == []

    # and at most 10
    sim.clear_requests()
    run = play(sim, tmp_path, layout(registries=[dict(name="r%02d" % i, region="nyc3") for i in range(11)]))
    assert run.rc != 0 and "at most 10" in run.out, run
    assert writes(sim) == []

    # a malformed layout fails before any call (the role's argument spec, then the module's shape check:
    # tests/unit/test_layout.py)
    sim.clear_requests()
    run = play(sim, tmp_path, dict(registries=[dict(name="a", clusters="prod-nyc3-a", colour="red"), "b"]))
    assert run.rc != 0 and "docr_layout" in run.out, run
    assert sim.requests() == []


def test_absent_registry_holding_images_needs_force(sim, tmp_path):
    sim.seed(dict(subscription_tier="professional", clusters=[
        dict(id=cluster_id("prod-nyc3-%s" % s), name="prod-nyc3-%s" % s, region="nyc3", registries=["acme-nyc3", "acme-old"])
        for s in ("a", "b")
    ], registries=[
        dict(name="acme-nyc3", region="nyc3"),
        dict(name="acme-old", region="nyc3", repositories=[
            dict(name="web", manifests=[dict(size_bytes=1000, tags=["v1"])])]),
    ]))
    sim.clear_requests()
    before = clusters_state(sim)
    wanted = dict(subscription_tier="professional", registries=[
        dict(name="acme-nyc3", region="nyc3", clusters=["prod-nyc3-a", "prod-nyc3-b"]),
        dict(name="acme-old", region="nyc3", state="absent"),
    ])
    run = play(sim, tmp_path, wanted)
    assert run.rc != 0, run
    assert "docr_layout.registries[1].state: Registry 'acme-old' still holds 1 repository" in run.out, run
    assert "docr_layout.registries[1].force=true" in run.out, run
    # nothing written: both clusters still pull from it, and it is still there
    assert writes(sim) == []
    assert clusters_state(sim) == before and "acme-old" in registries_state(sim)
    # the count was read for that registry alone
    assert calls(sim).count(("GET", "/v2/registries/acme-old/repositoriesV2")) == 1

    wanted["registries"][1]["force"] = True
    sim.clear_requests()
    run = play(sim, tmp_path, wanted)
    assert run.rc == 0, run
    assert registries_state(sim) == {"acme-nyc3": "nyc3"}
    assert clusters_state(sim) == {"prod-nyc3-a": ["acme-nyc3"], "prod-nyc3-b": ["acme-nyc3"]}


def test_schedule_gc_settings_fail_before_any_write(sim, tmp_path):
    seed_clusters(sim, tier="professional")
    wanted = layout(schedule_gc=True)
    wanted["registries"][0]["gc"] = dict(type="untagged_manifests_only", min_interval="1 week")
    run = play(sim, tmp_path, wanted)
    assert run.rc != 0, run
    assert "docr_layout.registries[0].gc: registry 'acme-nyc3': min_interval" in run.out, run
    assert writes(sim) == [] and registries_state(sim) == {}


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
    assert api_tasks(run) == [PLAN_TASK], run

    # require_colocation: false turns the failure into a warning
    wanted["require_colocation"] = False
    wanted["registries"][0].update(allow_cross_region=False, clusters=["prod-nyc3-a", "prod-ams3-b"])
    run = play(sim, tmp_path, wanted)
    assert run.rc == 0, run
    assert re.search(r"WARNING.*Cross-region.*prod-ams3-b", run.out + run.err, re.S), run
    assert clusters_state(sim)["prod-ams3-b"] == ["acme-nyc3"]
