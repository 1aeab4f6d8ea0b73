"""`make bench`: the collection's benchmarks against the API simulator; prints tables, writes JSON.

    python tests/bench/bench.py [--only layout,tasks,startup,latency,retention] [--repeats N] [--json PATH]

Run from the repository root with the venv's Python (hack/bench.sh does). Measures, never asserts:
a timing is a figure for docs/performance.md, not a test (tests/bench/test_bench_smoke.py keeps this
code path working and checks call counts only).
"""

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _bench_lib as lib  # noqa: E402  pylint: disable=wrong-import-position
import _benchmarks as bench  # noqa: E402  pylint: disable=wrong-import-position

SECTIONS = ("layout", "tasks", "startup", "latency", "retention")


def show(title, text):
    print("\n== %s\n%s" % (title, text))
    sys.stdout.flush()


def print_layout(data):
    rows = []
    for row in data["sizes"]:
        first, again = row["first_run"], row["no_change_run"]
        rows.append([row["registries"], row["clusters"], first["calls"], row["budget"], first["writes"],
                     first["api_tasks"], sum(first["read_twice"].values()) - len(first["read_twice"]), first["seconds"],
                     again["calls"], again["writes"], again["api_tasks"], again["seconds"]])
    show("API calls of registry_layout (playbooks/site.yml): first converge, then a no-change converge",
         lib.table(["registries", "clusters", "1st calls", "budget", "1st writes", "1st API tasks", "1st repeated reads",
                    "1st s", "no-change calls", "no-change writes", "no-change API tasks", "no-change s"], rows))


def print_tasks(data):
    rows = [[t["task"], "%.3f" % t["median_seconds"], "%.2f" % t["ratio_to_ping"], t["changed"]] for t in data["tasks"]]
    show("Wall time per task (median of %d, same playbook run), against ansible.builtin.ping" % data["repeats"],
         lib.table(["task", "seconds", "x ping", "changed"], rows))


def print_startup(data):
    rows = [[m["module"], m["import_basic_ms"], m["import_module_ms"], m["client_ms"], m["modules_added"],
             m["pydo_modules"], m["azure_modules"], " ".join(m["collection_files"])] for m in data["modules"]]
    show("Start-up cost per module (fresh interpreter, median of %d; ms); `import pydo` alone: %s ms"
         % (data["repeats"], data["import_pydo_alone_ms"]),
         lib.table(["module", "basic", "module+deps", "client", "modules added", "pydo", "azure", "collection files"], rows))


def print_latency(data):
    rows = []
    for run in ("first_run", "no_change_run"):
        item = data[run]
        rows.append([run.replace("_", " "), item["calls"], item["writes"], item["api_tasks"], item["seconds"],
                     item["latency_floor_seconds"], ", ".join("%s x%d" % pair for pair in item["read_twice"].items()) or "-"])
    show("Example layout (playbooks/layouts/example-multi-region.yml), %d ms added to every API call (first-run budget %d)"
         % (int(data["latency_seconds"] * 1000), data["budget"]),
         lib.table(["run", "calls", "writes", "API tasks", "seconds", "calls x latency", "read more than once"], rows))
    print("first run, in order: " + "; ".join(data["first_run"]["log"]))


def print_retention(data):
    rows = [[data["tags"], data["deleted"], data["tags_left"], data["calls"], data["writes"], data["answered_429"],
             data["pacer_waits"], data["waited_simulated_seconds"], data["simulated_minutes"], data["wall_seconds"]]]
    show("docr_retention over %d tags (%d repositories, keep_last %d), limit %d requests/minute"
         % (data["tags"], data["repositories"], data["keep_last"], data["rate_limit"]["per_minute"]),
         lib.table(["tags", "deleted", "left", "calls", "writes", "429s", "waits", "waited (sim s)",
                    "sim minutes", "wall s"], rows))


PRINTERS = {"layout": print_layout, "tasks": print_tasks, "startup": print_startup, "latency": print_latency,
            "retention": print_retention}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections: %s" % ", ".join(SECTIONS))
    parser.add_argument("--repeats", type=int, default=5, help="repetitions for the timing sections")
    parser.add_argument("--json", default=os.path.join(lib.REPO, "bench-results.json"), help="where to write the results")
    args = parser.parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        parser.error("unknown sections: %s" % ", ".join(unknown))

    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "make bench" if not argv and len(sys.argv) == 1 else "python tests/bench/bench.py " + " ".join(argv or sys.argv[1:]),
    }
    with lib.Sim() as sim:
        for section in wanted:
            start = time.perf_counter()
            if section == "layout":
                data = bench.layout_calls(sim)
            elif section == "tasks":
                data = bench.task_cost(sim, repeats=args.repeats)
            elif section == "startup":
                data = bench.startup_cost(repeats=args.repeats)
            elif section == "latency":
                data = bench.latency_converge(sim)
            else:
                data = bench.retention(sim)
            data["section_seconds"] = round(time.perf_counter() - start, 1)
            results[section] = data
            PRINTERS[section](data)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print("\nmachine: %(cpus)s CPUs, Python %(python)s, load average %(load_average_at_start)s at the start, "
          "%(load_average_at_end)s at the end (timings are noisy on a busy machine; call counts are not)" % results["machine"])
    with open(args.json, "w") as handle:
        json.dump(results, handle, indent=2, sort_keys=True)
    print("\nresults written to %s" % os.path.relpath(args.json, lib.REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
