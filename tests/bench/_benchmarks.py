"""The benchmarks themselves; ``bench.py`` runs them and prints the tables, the smoke test runs the smallest.

Each function takes a simulator handle (``_bench_lib.Sim`` or the pytest ``sim`` fixture) and returns a
JSON-able dict. None of them asserts a timing.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import _bench_lib as lib

LAYOUT_SIZES = ((1, 2), (3, 10), (10, 50))
MODULE_TASKS = (
    ("ansible.builtin.ping", {}),
    ("dockyard.docr.docr_registry", {"name": "bench", "region": "fra1"}),
    ("dockyard.docr.docr_registry_info", {"name": "bench"}),
    ("dockyard.docr.docr_doks_integration", {"clusters": ["bench-fra1"], "registries": ["bench"]}),
    ("dockyard.docr.docr_doks_integration_info", {}),
    ("dockyard.docr.docr_gc", {"registry": "bench", "state": "cancelled"}),
    ("dockyard.docr.docr_gc_info", {"registry": "bench"}),
    ("dockyard.docr.docr_credentials", {"registry": "bench", "dest": "{{ bench_dir }}/config.json"}),
    ("dockyard.docr.docr_retention", {"registry": "bench", "keep_last": 100}),
)
MODULES = tuple(name.rsplit(".", 1)[1] for name, _args in MODULE_TASKS if name.startswith("dockyard."))
LATENCY = 0.15
RETENTION_REPOSITORIES = 10
RETENTION_TAGS = 500  # per repository: 5,000 in all
RETENTION_KEEP_LAST = 10


def _values(found):
    return list(found.values()) if isinstance(found, dict) else list(found)


def _layout(registries, clusters):
    """A layout of ``registries`` registries sharing ``clusters`` clusters (each in its registry's region)."""
    entries = []
    for index in range(registries):
        entries.append({"name": "bench-%02d" % index, "region": lib.REGIONS[index % len(lib.REGIONS)], "clusters": []})
    seeded = []
    for index in range(clusters):
        owner = entries[index % registries]
        name = "bench-c%03d" % index
        owner["clusters"].append(name)
        seeded.append({"name": name, "region": owner["region"], "registries": []})
    return {"subscription_tier": "professional", "registries": entries}, seeded


def _example_clusters():
    """The six clusters of playbooks/layouts/example-multi-region.yml, as a seed (like `make demo`)."""
    import yaml  # pylint: disable=import-outside-toplevel

    with open(lib.EXAMPLE_LAYOUT) as handle:
        layout = yaml.safe_load(handle)["docr_layout"]
    clusters = [{"name": name, "region": entry["region"], "registries": []}
                for entry in layout["registries"] for name in entry.get("clusters") or []]
    return layout, clusters


# ---- 1. API calls of a no-change converge, by layout size ---------------------------------------

ROLE_TASK = "dockyard.docr.registry_layout : "
# The role's tasks that never call the API (facts, messages, the gc_schedule hand-over).
NO_API_TASK = ("Validating arguments", "Record ", "Hand ", "Note ", "Plan the converge", "Validate the layout", "Check the regions", "Warn about")


def api_tasks(out):
    """How many of the role's API tasks ran in a playbook's output (ok, changed or failed: not skipped)."""
    ran = 0
    for section in out.split("TASK [")[1:]:
        title, _sep, body = section.partition("]")
        if not title.startswith(ROLE_TASK) or title[len(ROLE_TASK):].startswith(NO_API_TASK):
            continue
        if re.search(r"^(ok|changed|fatal|failed): \[", body, re.M):
            ran += 1
    return ran


def read_twice(requests_log):
    """``{"GET path": times}`` of each read made more than once in a run."""
    seen = {}
    for entry in requests_log:
        if entry["method"] == "GET":
            key = "GET " + entry["path"]
            seen[key] = seen.get(key, 0) + 1
    return dict((key, times) for key, times in sorted(seen.items()) if times > 1)


def budget(registries, registry_sets):
    """Issue 15's budget of a first converge: 2 reads, 2 calls per new registry, 1 write per distinct registry set."""
    return 2 + 2 * registries + registry_sets


def _run(sim, layout):
    """Converge ``layout`` once: the call counts, the API tasks that ran, the repeated reads, the seconds."""
    sim.clear_requests()
    _rc, out, seconds = lib.playbook(sim.url, lib.SITE, {"docr_layout": layout})
    log = sim.requests()
    return dict(lib.count(log), seconds=round(seconds, 2), api_tasks=api_tasks(out), read_twice=read_twice(log),
                log=["%s %s" % (entry["method"], entry["path"]) for entry in log])


def layout_calls(sim, sizes=LAYOUT_SIZES):
    """Seed the clusters, converge once, converge again, and count each run's calls."""
    rows = []
    for registries, clusters in sizes:
        layout, seeded = _layout(registries, clusters)
        sim.seed({"subscription_tier": "professional", "clusters": seeded, "rate_limit": lib.NO_RATE_LIMIT})
        first = _run(sim, layout)
        second = _run(sim, layout)
        state = sim.state()
        sets = len([entry for entry in layout["registries"] if entry["clusters"]])
        rows.append({
            "registries": registries,
            "clusters": clusters,
            "budget": budget(registries, sets),
            "first_run": first,
            "no_change_run": second,
            "registries_in_account": len(_values(state["registries"])),
            "cluster_registry_links": sum(len(c.get("registries") or []) for c in _values(state["clusters"])),
        })
    return {"sizes": rows}


# ---- 2. wall time per task against ansible.builtin.ping, and start-up cost ------------------------

def _task_playbook(folder, repeats, tasks):
    lines = ["---", "- name: Per-task cost of each module against ansible.builtin.ping", "  hosts: localhost",
             "  gather_facts: false", "  vars:", "    bench_dir: %s" % json.dumps(folder), "  tasks:"]
    for round_ in range(repeats + 1):  # round 0 warms up (first credentials issue, caches) and is not counted
        shift = round_ % len(tasks)       # each round starts with another task, so no task always runs first
        for name, args in tasks[shift:] + tasks[:shift]:
            lines.append("    - name: %s" % json.dumps("%s round %d" % (name, round_)))
            lines.append("      %s: %s" % (name, json.dumps(args)))
    path = os.path.join(folder, "tasks.yml")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


# A callback plugin written next to the generated playbook: one JSON line per task result, with the
# time from the task's start to its result (ansible-core 2.19 has no built-in json callback any more).
_TIMER = '''
import json, os, time
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start = time.perf_counter()

    def _record(self, result, failed):
        with open(os.environ["DOCR_BENCH_TIMES"], "a") as handle:
            handle.write(json.dumps({"task": result._task.get_name(), "seconds": time.perf_counter() - self._start,
                                     "changed": bool(result._result.get("changed")), "failed": failed,
                                     "msg": str(result._result.get("msg", ""))[:500]}) + "\\n")

    def v2_runner_on_ok(self, result):
        self._record(result, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, True)
'''


def task_cost(sim, repeats=5, tasks=MODULE_TASKS):  # pylint: disable=too-many-locals
    """Run every task ``repeats`` times (after one warm-up round) in one playbook; median seconds per task."""
    sim.seed({
        "subscription_tier": "professional", "rate_limit": lib.NO_RATE_LIMIT,
        "registries": [{"name": "bench", "region": "fra1", "repositories": [
            {"name": "web", "manifests": [{"size_bytes": 1000 + n, "tags": ["v%d" % n]} for n in range(5)]}]}],
        "clusters": [{"name": "bench-fra1", "region": "fra1", "registries": ["bench"]}],
    })
    folder = tempfile.mkdtemp(prefix="docr-bench-")
    try:
        path = _task_playbook(folder, repeats, tasks)
        plugins = os.path.join(folder, "callback_plugins")
        os.mkdir(plugins)
        with open(os.path.join(plugins, "bench_timer.py"), "w") as handle:
            handle.write(_TIMER)
        times = os.path.join(folder, "times.jsonl")
        sim.clear_requests()
        _rc, _out, seconds = lib.playbook(sim.url, path, env={
            "ANSIBLE_CALLBACK_PLUGINS": plugins, "ANSIBLE_CALLBACKS_ENABLED": "bench_timer", "DOCR_BENCH_TIMES": times})
        calls = lib.count(sim.requests())
        with open(times) as handle:
            records = [json.loads(line) for line in handle if line.strip()]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    durations = {}
    changed = {}
    for record in records:
        name, _sep, round_ = record["task"].rpartition(" round ")
        if record["failed"]:
            raise RuntimeError("task %s failed: %s" % (record["task"], record["msg"]))
        if round_ == "0":
            continue
        durations.setdefault(name, []).append(record["seconds"])
        changed[name] = changed.get(name, False) or record["changed"]
    ping = lib.median(durations["ansible.builtin.ping"])
    rows = []
    for name, _args in tasks:
        value = lib.median(durations[name])
        rows.append({"task": name, "median_seconds": round(value, 3), "ratio_to_ping": round(value / ping, 2),
                     "changed": changed[name]})
    return {"repeats": repeats, "playbook_seconds": round(seconds, 2), "api_calls": calls, "tasks": rows}


_STARTUP = r"""
import json, sys, time
t0 = time.perf_counter()
import ansible.module_utils.basic
t1 = time.perf_counter()
before = set(sys.modules)
import importlib
importlib.import_module("ansible_collections.dockyard.docr.plugins.modules." + sys.argv[1])
t2 = time.perf_counter()
from ansible_collections.dockyard.docr.plugins.module_utils._client import DocrClient
DocrClient(token="startup-cost-probe", api_url="http://127.0.0.1:9")
t3 = time.perf_counter()
added = set(sys.modules) - before
print(json.dumps({"basic": t1 - t0, "module": t2 - t1, "client": t3 - t2, "modules_added": len(added),
                  "pydo_modules": len([m for m in added if m.split(".")[0] == "pydo"]),
                  "azure_modules": len([m for m in added if m.split(".")[0] == "azure"]),
                  "dockyard_modules": sorted(m.rsplit(".", 1)[1] for m in added if ".module_utils._" in m)}))
"""


def startup_cost(repeats=5, modules=MODULES):
    """Per module, in a fresh interpreter: import time of ansible.module_utils.basic (what ping pays too),
    of the module on top of it (collection code, pydo), and the client's construction."""
    lib.expose_collection()
    env = dict(os.environ, PYTHONPATH=lib.COLLECTIONS)
    rows = []
    for module in modules:
        samples = []
        for _index in range(repeats):
            proc = subprocess.run([sys.executable, "-c", _STARTUP, module], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=120, check=True)
            samples.append(json.loads(proc.stdout.decode("utf-8")))
        last = samples[-1]
        rows.append({
            "module": module,
            "import_basic_ms": round(1000 * lib.median([s["basic"] for s in samples]), 1),
            "import_module_ms": round(1000 * lib.median([s["module"] for s in samples]), 1),
            "client_ms": round(1000 * lib.median([s["client"] for s in samples]), 1),
            "modules_added": last["modules_added"],
            "pydo_modules": last["pydo_modules"],
            "azure_modules": last["azure_modules"],
            "collection_files": last["dockyard_modules"],
        })
    pydo = []
    for _index in range(repeats):
        proc = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); import pydo; print(time.perf_counter() - t)"],
                              env=env, stdout=subprocess.PIPE, timeout=120, check=True)
        pydo.append(float(proc.stdout.decode("utf-8").strip()))
    return {"repeats": repeats, "modules": rows, "import_pydo_alone_ms": round(1000 * lib.median(pydo), 1)}


# ---- 3. the example layout with ~150 ms per call ------------------------------------------------

def latency_converge(sim, latency=LATENCY):
    """Converge playbooks/layouts/example-multi-region.yml with every API call delayed ``latency`` seconds."""
    layout, clusters = _example_clusters()
    sim.seed({"subscription_tier": "basic", "clusters": clusters, "rate_limit": lib.NO_RATE_LIMIT})
    sim.fault(path_regex="^/v2/", latency=latency, times=1000000)
    result = {"latency_seconds": latency, "budget": budget(len(layout["registries"]), len(layout["registries"]))}
    for run in ("first_run", "no_change_run"):
        item = _run(sim, layout)
        result[run] = dict(item, latency_floor_seconds=round(item["calls"] * latency, 2))
    sim.clear_faults()
    result["registries_in_account"] = sorted(r["name"] for r in _values(sim.state()["registries"]))
    return result


# ---- 4. retention over 5,000 tags under 250 requests per minute ---------------------------------

def _digest(*parts):
    return "sha256:" + hashlib.sha256("/".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def _iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def retention(sim, repositories=RETENTION_REPOSITORIES, tags=RETENTION_TAGS, keep_last=RETENTION_KEEP_LAST,
              per_minute=250, per_hour=5000, requests_per_minute=None):
    """docr_retention (in this process) with the client's rate limiter on the simulator's clock: its waits advance that
    clock instead of sleeping, so 20 simulated minutes take seconds, and the limiter sees the same time."""
    lib.expose_collection()
    # pylint: disable=import-outside-toplevel
    from ansible_collections.dockyard.docr.plugins.modules import docr_retention

    now = time.time()
    repos = []
    for r in range(repositories):
        manifests = [{"digest": _digest(r, n), "size_bytes": 1000 + n, "updated_at": _iso(now - 86400 - (tags - n) * 60),
                      "tags": ["build-%d" % n]} for n in range(tags)]
        repos.append({"name": "app-%02d" % r, "manifests": manifests})
    sim.seed({"subscription_tier": "professional", "rate_limit": {"per_minute": per_minute, "per_hour": per_hour},
              "registries": [{"name": "bench-retention", "region": "fra1", "repositories": repos}]})
    sim.clear_requests()

    # one clock: the simulator's, stopped, which only the limiter's waits move (the figures do not depend on
    # how fast this machine is)
    sim._call("POST", "/_sim/clock", {"speed": 0, "step": 0})  # pylint: disable=protected-access
    base = sim._call("GET", "/_sim/clock")["timestamp"]  # pylint: disable=protected-access
    offset = [0.0]

    def sim_clock():
        return base + offset[0]

    def sim_sleep(seconds):
        offset[0] += seconds
        sim.advance(seconds)

    start = time.perf_counter()
    # the client's rate limiter and retries get this clock and sleep (the module's timing)
    result = lib.run_module_inprocess(docr_retention, {
        "token": lib.TOKEN, "api_url": sim.url, "registry": "bench-retention", "keep_last": keep_last,
        "max_deletions": repositories * tags, "requests_per_minute": requests_per_minute or min(240, per_minute),
    }, timing=dict(clock=sim_clock, sleep=sim_sleep))
    seconds = time.perf_counter() - start
    if result.get("failed"):
        raise RuntimeError("docr_retention failed: %s" % result.get("msg"))
    calls = lib.count(sim.requests())
    left = sum(len(repo["tags"]) for registry in _values(sim.state()["registries"]) for repo in registry["repositories"])
    return {
        "tags": repositories * tags, "repositories": repositories, "keep_last": keep_last,
        "rate_limit": {"per_minute": per_minute, "per_hour": per_hour},
        "deleted": len(result["deleted"]), "tags_left": left,
        "calls": calls["calls"], "reads": calls["reads"], "writes": calls["writes"], "answered_429": calls["429"],
        "pacer_waits": result["pacing"]["waits"], "waited_simulated_seconds": result["pacing"]["waited_seconds"],
        "simulated_minutes": round(offset[0] / 60.0, 1), "wall_seconds": round(seconds, 2),
    }
