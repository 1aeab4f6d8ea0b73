"""Keep the benchmarks' code paths working (`make bench` is not part of `make test`): every section at
its smallest size, checking what is deterministic (API calls, writes, 429s, final state), never a time."""

import _benchmarks as bench

PING = bench.MODULE_TASKS[0]
REGISTRY_INFO = bench.MODULE_TASKS[2]

# First converges (docs/performance.md, section 1): 1 registry on 2 clusters costs budget (2 + 2R + sets = 5)
# + 2, the integration task's own two reads; the example layout (basic -> professional, 3 registries, 3 sets)
# costs 18, budget 11 + 7 (the plan's options read, the tier change's 4, the integration's 2 reads).
FIRST_CONVERGE_CALLS_1_REGISTRY = 7
FIRST_CONVERGE_CALLS_EXAMPLE = 18


def test_layout_calls_smallest(sim):
    result = bench.layout_calls(sim, sizes=((1, 2),))
    row, = result["sizes"]
    assert row["first_run"]["writes"] == 2            # the create and the integration write
    # a single create in a region the spec lists: the plan does not read the options (the create, the first
    # write, is validated by the API); the plan's 2 reads, docr_registry's 2, the integration's 2 reads + 1 write
    assert row["first_run"]["calls"] == FIRST_CONVERGE_CALLS_1_REGISTRY == row["budget"] + 2, row["first_run"]["log"]
    assert "GET /v2/registries/options" not in row["first_run"]["log"]
    # no-change converge: one API task (the plan), the registry list (which carries the subscription) and the
    # cluster list; no write
    assert (row["no_change_run"]["calls"], row["no_change_run"]["writes"], row["no_change_run"]["api_tasks"]) == (2, 0, 1)
    assert row["no_change_run"]["read_twice"] == {}
    assert row["registries_in_account"] == 1 and row["cluster_registry_links"] == 2


def test_task_cost_smallest(sim):
    result = bench.task_cost(sim, repeats=1, tasks=(PING, REGISTRY_INFO))
    assert [row["task"] for row in result["tasks"]] == ["ansible.builtin.ping", "dockyard.docr.docr_registry_info"]
    assert [row["changed"] for row in result["tasks"]] == [False, False]
    assert result["api_calls"]["writes"] == 0 and result["api_calls"]["calls"] > 0


def test_startup_cost_smallest():
    result = bench.startup_cost(repeats=1, modules=("docr_registry",))
    row, = result["modules"]
    assert row["pydo_modules"] > 0                        # the module needs pydo...
    assert "_client" in row["collection_files"]
    assert "_retention" not in row["collection_files"]    # ...and only its own module_utils


def test_latency_converge_smallest(sim):
    result = bench.latency_converge(sim, latency=0.001)
    assert result["first_run"]["writes"] > 0
    assert result["first_run"]["calls"] == FIRST_CONVERGE_CALLS_EXAMPLE, result["first_run"]
    assert (result["no_change_run"]["calls"], result["no_change_run"]["writes"], result["no_change_run"]["api_tasks"]) == (2, 0, 1)
    assert result["registries_in_account"] == ["acme-ams3", "acme-nyc3", "acme-sfo3"]
    assert sim.faults() == []


def test_retention_smallest(sim):
    result = bench.retention(sim, repositories=3, tags=20, keep_last=2, per_minute=25, per_hour=1000, requests_per_minute=20)
    assert result["deleted"] == 54 and result["tags_left"] == 6
    # reads: the repository list and 3 tag lists for the plan, then each repository listed again right before
    # its deletions (the re-check), and again after each of the limiter's waits (a listing over 10 s old)
    assert result["writes"] == 54 and result["reads"] == 1 + 3 + 3 + result["pacer_waits"]
    assert result["calls"] == result["reads"] + result["writes"]
    assert result["answered_429"] == 0
    assert result["pacer_waits"] > 0                      # 58 calls at 20 a minute: the limiter had to wait
