"""Every module, in its main modes, against the simulator: what it returns is what its RETURN documents.

For each run (check mode, apply, apply again, change, absent, the documented failures that carry a result):

- every key it returns is documented (besides the keys Ansible itself adds: ``changed``, ``failed``, ``msg``,
  ``diff``, ``warnings``, ``invocation`` ...), and inside a documented dict or list of dicts, every key is too;
- every key documented ``returned: always`` is there (in a failure, only where the module documents a full
  result: docr_retention over max_deletions); inside a returned dict (or each element of a returned
  list), every key documented without a ``returned`` condition is there.

Where a documented key is conditional (``returned: when ...``), the runs below include one that meets the
condition and the test checks the key appears there (``expect``).
"""

import os
import re

import pytest
import yaml

from ansible_collections.dockyard.docr.plugins.modules import (
    docr_credentials, docr_doks_integration, docr_doks_integration_info, docr_gc, docr_gc_info, docr_registry,
    docr_registry_info, docr_retention)
from ansible_collections.dockyard.docr.plugins.modules import docr_layout_plan

MODULES = [docr_credentials, docr_doks_integration, docr_doks_integration_info, docr_gc, docr_gc_info, docr_registry,
           docr_registry_info, docr_retention, docr_layout_plan]
# added by AnsibleModule / the action, or by the test helper (exit_code)
STANDARD = {"changed", "failed", "msg", "diff", "warnings", "deprecations", "invocation", "exception", "exit_code",
            "skipped_reason"}
FAST = 200.0          # simulated seconds per real second: a whole GC in a fraction of a real second
POLL = 0.02
OLD = "2026-01-01T00:00:00Z"


def documented(module):
    return yaml.safe_load(module.RETURN) or {}


def check_keys(value, doc, where):
    """``value`` (a returned dict) against ``doc`` (its RETURN entries); nested ``contains`` too."""
    problems = []
    for key in sorted(set(value) - set(doc)):
        problems.append("%s: %s is returned but not documented" % (where, key))
    for key, entry in sorted(doc.items()):
        returned = entry.get("returned", "always")
        if returned == "always" and key not in value:
            problems.append("%s: %s is documented as returned always but missing" % (where, key))
        if key not in value or value[key] is None or not entry.get("contains"):
            continue
        items = value[key] if isinstance(value[key], list) else [value[key]]
        for index, item in enumerate(items):
            if isinstance(item, dict):
                problems.extend(check_keys(item, entry["contains"], "%s.%s[%d]" % (where, key, index)))
    return problems


def check(module, result, expect=(), always=True):
    """``always=False`` for a failure: its keys must be documented, but "returned: always" means on success."""
    doc = documented(module)
    extra = dict((k, v) for k, v in result.items() if k not in STANDARD)
    if not always:
        doc = dict((k, dict(v, returned=v.get("returned", "always") + " (success)")) for k, v in doc.items())
    problems = check_keys(extra, doc, module.__name__.rsplit(".", 1)[-1])
    for key in expect:
        if key not in result:
            problems.append("%s: %s (returned %r) should be in this run's result" % (
                module.__name__, key, doc.get(key, {}).get("returned")))
    assert problems == [], "\n".join(problems)
    return result


COVERED = set()


def run_and_check(run_module, module, args, check_mode=False, diff=True, failed=False, expect=(), always=True):
    res = run_module(module, args, check_mode=check_mode, diff=diff)
    assert bool(res.get("failed")) is failed, res
    COVERED.add(module.__name__)
    return check(module, res, expect, always)


# ---- the runs ---------------------------------------------------------------------------------

def test_registry_and_registry_info(sim, api, run_module):
    args = dict(api, name="acme", region="fra1", subscription_tier="basic")
    predicted = run_and_check(run_module, docr_registry, args, check_mode=True)
    created = run_and_check(run_module, docr_registry, args)
    # check mode predicts the subscription the apply got; the account's first registry signs up in the create,
    # whose answer carries no subscription: only the tier is known then (documented)
    terms = ("tier", "tier_name", "included_repositories", "included_storage_bytes", "allow_storage_overage",
             "monthly_price_in_cents")
    assert dict((k, predicted["subscription"][k]) for k in terms) == dict((k, created["subscription"][k]) for k in terms)
    assert created["subscription"]["tier"] == "basic"
    again = run_and_check(run_module, docr_registry, args)
    assert None not in [again["subscription"][k] for k in terms], again["subscription"]
    run_and_check(run_module, docr_registry, dict(api, name="acme"))        # no tier: subscription not returned
    changed = dict(args, subscription_tier="professional")
    predicted = run_and_check(run_module, docr_registry, changed, check_mode=True)
    applied = run_and_check(run_module, docr_registry, changed)
    # a tier change: check mode predicts the new tier's terms, the same the apply got, not nulls
    assert dict((k, predicted["subscription"][k]) for k in terms) == dict((k, applied["subscription"][k]) for k in terms)
    assert None not in [predicted["subscription"][k] for k in terms], predicted["subscription"]

    run_and_check(run_module, docr_registry_info, dict(api))
    run_and_check(run_module, docr_registry_info, dict(api, name="acme", repositories=True))
    run_and_check(run_module, docr_registry_info, dict(api, name="missing"))

    run_and_check(run_module, docr_registry, dict(api, name="acme", state="absent"), check_mode=True)
    run_and_check(run_module, docr_registry, dict(api, name="acme", state="absent"))
    run_and_check(run_module, docr_registry, dict(api, name="acme", state="absent"))


def test_registry_refused_delete(sim, api, run_module):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "fra1", "repositories": [
        {"name": "web", "manifests": [{"size_bytes": 10, "tags": ["v1"], "updated_at": OLD}]}]}]})
    res = run_module(docr_registry, dict(api, name="acme", state="absent"))
    assert res["failed"] and "force=true" in res["msg"], res
    # a failure's extra keys are documented as well
    check(docr_registry, res, expect=["repositories"], always=False)


def test_doks_integration_and_info(sim, api, run_module):
    sim.seed({"subscription_tier": "professional",
              "registries": [{"name": "acme-nyc3", "region": "nyc3"}, {"name": "acme-ams3", "region": "ams3"}],
              "clusters": [{"name": "prod-nyc3-a", "region": "nyc3", "registries": []},
                           {"name": "prod-ams3-a", "region": "ams3", "registries": []}]})
    one = dict(api, registries=["acme-nyc3"], clusters=["prod-nyc3-a"])
    run_and_check(run_module, docr_doks_integration, one, check_mode=True)
    run_and_check(run_module, docr_doks_integration, one)
    run_and_check(run_module, docr_doks_integration, one)
    layout = dict(api, integrations=[
        dict(registry="acme-nyc3", clusters=["prod-nyc3-a"]),
        dict(registry="acme-ams3", clusters=["prod-ams3-a", "prod-nyc3-a"])])
    # the cross-region pair fails by default, its failure's keys documented too
    res = run_and_check(run_module, docr_doks_integration, layout, failed=True, always=False)
    assert res["cross_region"] and "require_colocation" in res["msg"], res
    res = run_and_check(run_module, docr_doks_integration, dict(layout, require_colocation=False))
    assert res["cross_region"] and res.get("warnings"), res
    run_and_check(run_module, docr_doks_integration_info, dict(api))
    run_and_check(run_module, docr_doks_integration_info, dict(api, clusters=["prod-nyc3-a"]))
    assert run_and_check(run_module, docr_doks_integration_info, dict(api, clusters=["nope"]))["clusters"] == []
    run_and_check(run_module, docr_doks_integration, dict(one, state="absent"), check_mode=True)
    run_and_check(run_module, docr_doks_integration, dict(one, state="absent"))
    run_and_check(run_module, docr_doks_integration, dict(one, state="absent"))


@pytest.fixture
def gc_sim(sim):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "fra1", "repositories": [
        {"name": "web", "manifests": [{"size_bytes": 1000, "tags": ["v2"], "updated_at": OLD},
                                      {"size_bytes": 4000, "tags": [], "updated_at": OLD}]}]}]})
    sim.set_speed(FAST)
    return sim


def test_gc_and_gc_info(gc_sim, api, run_module):
    args = dict(api, registry="acme", poll_interval=POLL)
    run_and_check(run_module, docr_gc_info, dict(api, registry="acme"))
    run_and_check(run_module, docr_gc, args, check_mode=True)
    run_and_check(run_module, docr_gc, dict(args, history=3), expect=["history"])
    run_and_check(run_module, docr_gc, dict(args, min_interval="7d"))                 # skipped
    run_and_check(run_module, docr_gc_info, dict(api, registry="acme"))
    run_and_check(run_module, docr_gc_info, dict(api, registry="missing"))
    gc_sim.set_speed(1.0)                                                                # keep the next one running
    run_and_check(run_module, docr_gc, dict(args, wait=False))
    run_and_check(run_module, docr_gc_info, dict(api, registry="acme"))
    run_and_check(run_module, docr_gc, dict(args, state="cancelled"), check_mode=True)
    gc_sim.set_speed(FAST)
    run_and_check(run_module, docr_gc, dict(args, state="cancelled"))
    run_and_check(run_module, docr_gc, dict(args, state="cancelled"))


def test_gc_failures_carry_their_result(gc_sim, api, run_module):
    args = dict(api, registry="acme", poll_interval=POLL)
    res = run_and_check(run_module, docr_gc, dict(args, deadline=20), failed=True, always=False,
                        expect=["cancelled_by_deadline", "garbage_collection"])
    assert res["garbage_collection"]["status"] == "cancelled", res
    gc_sim.gc_control(registry="acme", next_outcome="failed")
    res = run_and_check(run_module, docr_gc, args, failed=True, always=False, expect=["garbage_collection"])
    assert res["garbage_collection"]["status"] == "failed", res


def test_credentials(sim, api, run_module, tmp_path):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "fra1"}]})
    dest = str(tmp_path / "config.json")
    base = dict(api, registry="acme")
    run_and_check(run_module, docr_credentials, base, check_mode=True)
    run_and_check(run_module, docr_credentials, dict(base, return_docker_config=True), expect=["docker_config"])
    run_and_check(run_module, docr_credentials, dict(base, kubernetes_secret=dict(name="docr")),
                  expect=["kubernetes_secret"])
    with_dest = dict(base, dest=dest)
    run_and_check(run_module, docr_credentials, with_dest, check_mode=True)
    res = run_and_check(run_module, docr_credentials, with_dest)
    assert os.path.isfile(dest) and res["dest"] == dest
    res = run_and_check(run_module, docr_credentials, dict(with_dest, return_docker_config=True), expect=["docker_config"])
    assert res["issued"] is False, res
    run_and_check(run_module, docr_credentials, dict(with_dest, read_write=True))


@pytest.fixture
def retention_sim(sim):
    manifests = [{"size_bytes": 100 + n, "tags": ["build-%d" % n] + (["latest"] if n == 0 else []),
                  "updated_at": "2026-01-%02dT00:00:00Z" % (n + 1)} for n in range(8)]
    sim.seed({"subscription_tier": "professional", "registries": [{"name": "acme", "region": "fra1", "repositories": [
        {"name": "web", "manifests": manifests},
        {"name": "base/debian", "manifests": [{"size_bytes": 5, "tags": ["d1"], "updated_at": OLD}]}]}]})
    return sim


def test_retention(retention_sim, api, run_module):
    policy = dict(api, registry="acme", keep_last=3, repositories_exclude=["base/*"])
    run_and_check(run_module, docr_retention, policy, check_mode=True)
    res = run_and_check(run_module, docr_retention, policy)
    assert res["deleted"] and res["repositories_skipped"] == ["base/debian"], res
    run_and_check(run_module, docr_retention, policy)
    res = run_and_check(run_module, docr_retention, dict(policy, keep_last=1, target="manifests"))
    assert res["deleted"] and all("tags" in item for item in res["deleted"]), res


def test_retention_over_max_deletions(retention_sim, api, run_module):
    policy = dict(api, registry="acme", keep_last=1, max_deletions=2, repositories_exclude=["base/*"])
    res = run_and_check(run_module, docr_retention, policy, failed=True, expect=["plan"])
    assert "max_deletions" in res["msg"] and res["deleted"] == [] and len(res["plan"]) > 2, res
    assert res["repositories_skipped"] == ["base/debian"] and res["pacing"]["requests"] >= 1, res
    assert retention_sim.writes() == []


def test_layout_plan(sim, api, run_module):
    sim.seed({"subscription_tier": "professional",
              "registries": [{"name": "acme-nyc3", "region": "nyc3"}, {"name": "acme-old", "region": "fra1", "repositories": [
                  {"name": "web", "manifests": [{"size_bytes": 10, "tags": ["v1"], "updated_at": OLD}]}]}],
              "clusters": [{"name": "prod-nyc3-a", "region": "nyc3", "registries": ["acme-old"]},
                           {"name": "prod-ams3-a", "region": "ams3", "registries": []}]})
    layout = dict(subscription_tier="professional", require_colocation=False, registries=[
        dict(name="acme-nyc3", region="nyc3", clusters=["prod-nyc3-a", "prod-ams3-a"], gc=dict(type="untagged_manifests_only")),
        dict(name="acme-sfo3", region="sfo3"),
        dict(name="acme-old", region="fra1", state="absent", force=True),
    ])
    res = run_and_check(run_module, docr_layout_plan, dict(api, docr_layout=layout), check_mode=True)
    assert res["changed"] and res["plan"]["deletes"] == [{"name": "acme-old", "force": True}] and res["cross_region"], res
    run_and_check(run_module, docr_layout_plan, dict(api, docr_layout=layout))
    layout["registries"][2]["force"] = False
    res = run_and_check(run_module, docr_layout_plan, dict(api, docr_layout=layout), failed=True, expect=["problems"], always=False)
    assert len(res["problems"]) == 1 and "force" in res["problems"][0], res
    assert sim.write_calls() == []


def test_every_module_was_run():
    """Keep this last: a module added to plugins/modules/ needs runs above."""
    here = os.path.dirname(os.path.abspath(__file__))
    folder = os.path.join(os.path.dirname(os.path.dirname(here)), "plugins", "modules")
    names = sorted(re.sub(r"\.py$", "", n) for n in os.listdir(folder) if n.endswith(".py") and n != "__init__.py")
    assert names == sorted(m.__name__.rsplit(".", 1)[-1] for m in MODULES)
    if len(COVERED) < len(MODULES):
        pytest.skip("run the whole file to check that every module was run (ran: %s)" % sorted(COVERED))
    assert sorted(COVERED) == sorted(m.__name__ for m in MODULES)
