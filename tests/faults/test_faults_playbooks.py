"""The layout converge (playbooks/site.yml, role registry_layout) and GC (playbooks/gc.yml) run by
ansible-playbook under faults, and twice at the same time.

Waits between retries are real in a subprocess, so the injected faults say ``Retry-After: 0`` (the client
honours it) except the one case that checks the back-off without it.
"""

import hashlib
import os
import subprocess

from faults_support import REPO, Run, clusters, playbook_command, registries, writes  # pylint: disable=import-error

SITE = os.path.join(REPO, "playbooks", "site.yml")
GC = os.path.join(REPO, "playbooks", "gc.yml")
REGIONS = ("nyc3", "sfo3", "ams3")
STEP = 30.0   # simulated seconds the stopped clock moves per API request


def cluster_id(name):
    return "c0ffee00-5e1e-4205-a714-%s" % hashlib.md5(name.encode()).hexdigest()[:12]


def seed_clusters(sim, tier="basic"):
    sim.seed(dict(subscription_tier=tier, clusters=[
        dict(id=cluster_id("prod-%s-%s" % (r, s)), name="prod-%s-%s" % (r, s), region=r, registries=[])
        for r in REGIONS for s in ("a", "b")
    ]))
    sim.clear_requests()


LAYOUT = dict(subscription_tier="professional", registries=[
    dict(name="acme-%s" % r, region=r, clusters=["prod-%s-a" % r, "prod-%s-b" % r]) for r in REGIONS
])


def assert_layout(sim):
    assert registries(sim) == {"acme-nyc3": "nyc3", "acme-sfo3": "sfo3", "acme-ams3": "ams3"}
    assert clusters(sim) == dict(("prod-%s-%s" % (r, s), ["acme-%s" % r]) for r in REGIONS for s in ("a", "b"))
    assert "professional" in str(sim.state()["subscription"])


def assert_converged(sim, playbook):
    sim.clear_faults()
    sim.clear_requests()
    run = playbook(SITE, dict(docr_layout=LAYOUT))
    assert run.rc == 0 and run.changed == 0, run
    assert writes(sim) == []
    assert_layout(sim)


def test_layout_converge_under_faults(sim, playbook):
    seed_clusters(sim)
    # a storm longer than the retries: the run fails clearly, having created no registry
    sim.fault(method="POST", path="/v2/registries", status=503, retry_after=0, times=50)
    run = playbook(SITE, dict(docr_layout=LAYOUT))
    assert run.rc != 0, run
    assert "DigitalOcean API error 503 on registries.create" in run.out, run
    assert registries(sim) == {}
    seed_clusters(sim)  # back to the basic tier (the failed run had moved the account to professional)
    sim.fault(method="POST", path="/v2/registries/subscription", status=503, retry_after=0, times=1)
    sim.fault(method="POST", path="/v2/registries/subscription", status=500, after=True, times=1)

    # transient faults: reads get a 429 storm and a 5xx burst; writes get answers lost after the server
    # acted, refusals, and a 429 without Retry-After (the client's own back-off)
    sim.fault(method="GET", path_regex=r"^/v2/kubernetes/clusters", status=429, retry_after=0, times=2)
    sim.fault(method="GET", path_regex=r"^/v2/registries$", status=502, retry_after=0, times=1)
    sim.fault(method="POST", path="/v2/registries", status=500, after=True, times=1)
    sim.fault(method="POST", path="/v2/registries", drop=True, after=True, times=1)
    sim.fault(method="POST", path="/v2/registries", status=429, times=1)
    sim.fault(method="POST", path="/v2/kubernetes/registries", status=502, after=True, times=2)
    sim.fault(method="POST", path="/v2/kubernetes/registries", drop=True, times=1)
    sim.clear_requests()
    run = playbook(SITE, dict(docr_layout=LAYOUT))
    assert run.rc == 0, run
    assert sim.faults() == [], sim.faults()  # every fault was met
    assert_layout(sim)
    created = [r for r in sim.requests() if r["method"] == "POST" and r["path"] == "/v2/registries"]
    assert [r["status"] for r in created].count(409) == 0, created  # no blind repeat of a create
    assert_converged(sim, playbook)


def test_layout_plan_read_failing_writes_nothing(sim, playbook):
    seed_clusters(sim)
    # the plan's cluster read fails past the retries: the run stops at the plan, before any write
    sim.fault(method="GET", path_regex=r"^/v2/kubernetes/clusters", status=503, retry_after=0, times=50)
    run = playbook(SITE, dict(docr_layout=LAYOUT))
    assert run.rc != 0, run
    assert "503" in run.out, run
    assert writes(sim) == [] and registries(sim) == {}
    sim.clear_faults()
    # the options (read only because the layout creates registries) answer a 500 once: retried, then the converge
    sim.fault(method="GET", path="/v2/registries/options", status=500, retry_after=0, times=1)
    sim.clear_requests()
    run = playbook(SITE, dict(docr_layout=LAYOUT))
    assert run.rc == 0, run
    assert sim.faults() == []
    assert_layout(sim)
    assert_converged(sim, playbook)


def start(sim, tmp_path, path, extra_vars):
    cmd, env = playbook_command(sim, tmp_path, path, extra_vars)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def finish(proc):
    out, err = proc.communicate(timeout=180)
    proc.stdout = out
    proc.stderr = err
    return Run(proc)


def test_two_converges_at_once(sim, tmp_path, playbook):
    seed_clusters(sim)
    first = start(sim, tmp_path, SITE, dict(docr_layout=LAYOUT))
    second = start(sim, tmp_path, SITE, dict(docr_layout=LAYOUT))
    runs = [finish(first), finish(second)]
    for run in runs:
        assert run.rc == 0, run
    assert_layout(sim)
    assert_converged(sim, playbook)


def test_two_gc_runs_at_once(sim, tmp_path):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "fra1", "repositories": [
        {"name": "web", "manifests": [
            {"size_bytes": 1000, "tags": ["v2"], "updated_at": "2026-01-01T00:00:00Z"},
            {"size_bytes": 4000, "tags": [], "updated_at": "2026-01-01T00:00:00Z"},
        ]}]}]})
    sim.step_clock(STEP)
    # min_interval: a run that starts only after the other's GC ended skips instead of starting a second one
    gc_vars = dict(docr_gc_registries=["acme"], docr_gc_poll_interval=0.05, docr_gc_min_interval="1d")
    procs = [start(sim, tmp_path, GC, gc_vars) for _attempt in range(2)]
    runs = [finish(proc) for proc in procs]
    for run in runs:
        assert run.rc == 0, run
    found = [g for g in sim.state()["gcs"] if g["registry_name"] == "acme"]
    assert len(found) == 1 and found[0]["status"] == "succeeded", found  # one GC, not two
    assert sum(run.changed for run in runs) == 1, runs  # one run started it; the other waited on it, or skipped
    state = next(r for r in sim.state()["registries"] if r["name"] == "acme")
    assert state["read_only"] is False
    assert [len(repo["manifests"]) for repo in state["repositories"]] == [1]  # the untagged one is gone
