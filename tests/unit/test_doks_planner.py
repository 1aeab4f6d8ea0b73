# -*- coding: utf-8 -*-
"""The DOKS integration planner in _doks.py, without HTTP.

Each rule on its own (options, cluster references, registries, the single-registry path, co-location,
grouped writes, before/after), every problem reported at once with no write planned, and both readings of
a cluster's ``registry_enabled`` that the simulator models (tests/simulator/README.md): applying a plan with
a small fake of each reading and planning again plans nothing.
"""

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _doks as doks
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError, DocrInputError

REGISTRIES = {"acme-nyc3": "nyc3", "acme-sfo3": "sfo3", "acme-ams3": "ams3"}
READINGS = ("mirrors_registries", "legacy_only")


def cluster(name, region, registries=(), enabled=None, cid=None):
    return doks.normalize_cluster(dict(
        id=cid or "id-%s" % name, name=name, region=region, registries=list(registries),
        registry_enabled=bool(registries) if enabled is None else enabled))


def account(**attached):
    """Six clusters, two per region; ``attached`` gives a cluster's registries (name with '_' for '-')."""
    found = []
    for region in ("nyc3", "sfo3", "ams3"):
        for suffix in ("a", "b"):
            name = "prod-%s-%s" % (region, suffix)
            found.append(cluster(name, region, attached.get(name.replace("-", "_"), ())))
    return found


def item(registries, clusters, allow=False, where=None):
    return doks.integration_item(registries, clusters, allow, where)


def layout(*entries):
    """``integrations`` option values -> items, through the module's own option check."""
    return doks.wanted_from_options(integrations=[
        dict(registry=e[0], clusters=e[1], allow_cross_region=e[2] if len(e) > 2 else False) for e in entries])


class FakeApi(object):
    """Just enough of the client for the writes of a plan, acting on ``clusters`` as one reading would."""

    def __init__(self, clusters, registries, reading):
        self.clusters = dict((c["id"], dict(c, registries=list(c["registries"]))) for c in clusters)
        self.registries = registries
        self.reading = reading
        self.log = []

    def call(self, operation, body, missing_ok=True):
        assert missing_ok is False
        self.log.append((operation, sorted(body["cluster_uuids"]), body.get("registries")))
        add = operation.startswith("kubernetes.add_")
        legacy = operation.endswith("_registry")
        names = [list(self.registries)[0]] if legacy else body["registries"]
        for cid in body["cluster_uuids"]:
            target = self.clusters[cid]
            if legacy and self.reading == "legacy_only":
                target["registry_enabled"] = add
                continue
            have = set(target["registries"])
            target["registries"] = sorted(have | set(names) if add else have - set(names))
            if self.reading == "mirrors_registries":
                target["registry_enabled"] = bool(target["registries"])

    def state(self):
        return [doks.normalize_cluster(c) for c in self.clusters.values()]


def apply(plan, clusters, registries, reading):
    api = FakeApi(clusters, registries, reading)
    for write in plan.writes:
        write.perform(api)
    return api


# ---- the options, before any API call -------------------------------------------------------------------

def test_options_become_items():
    items = doks.wanted_from_options(clusters=["a", "b"], registries=["acme-nyc3", "acme-sfo3"])
    assert items == [dict(registries=["acme-nyc3", "acme-sfo3"], clusters=["a", "b"], allow_cross_region=False,
                          where=None, clusters_option="clusters", registries_option="registries")]
    assert doks.wanted_from_options(clusters=["a"])[0]["registries"] is None  # the single-registry integration
    items = layout(("acme-nyc3", ["a"]), ("acme-sfo3", ["b"], True))
    assert [(i["where"], i["registries"], i["allow_cross_region"], i["clusters_option"], i["registries_option"])
            for i in items] == [("integrations[0]", ["acme-nyc3"], False, "integrations[0].clusters", "integrations[0].registry"),
                                ("integrations[1]", ["acme-sfo3"], True, "integrations[1].clusters", "integrations[1].registry")]


@pytest.mark.parametrize("options, expected", [
    (dict(clusters=[], registries=["acme-nyc3"]), ["clusters must name at least one DOKS cluster"]),
    (dict(clusters=None), ["clusters must name at least one DOKS cluster"]),
    (dict(clusters=["a"], registries=[]), ["registries must name at least one registry"]),
    (dict(clusters=["a"], registries=["Bad_Name"]), ["registries 'Bad_Name' is not a valid registry name"]),
    (dict(integrations=[]), ["integrations must hold at least one registry"]),
    (dict(integrations=[dict(registry="acme", clusters=[])]), ["integrations[0].clusters must name at least one cluster"]),
    (dict(integrations=[dict(registry="-x", clusters=["a"])]), ["integrations[0].registry '-x' is not a valid registry name"]),
    # every problem at once, each naming its option
    (dict(clusters=[], registries=["9reg", "acme", "reg-"]),
     ["clusters must name", "registries '9reg'", "registries 'reg-'"]),
    (dict(integrations=[dict(registry="ok", clusters=["a"]), dict(registry="Bad", clusters=[]), dict(registry="x-", clusters=["b"])]),
     ["integrations[1].registry 'Bad'", "integrations[1].clusters must name", "integrations[2].registry 'x-'"]),
])
def test_bad_options_fail_naming_each_option(options, expected):
    with pytest.raises(DocrInputError) as caught:
        doks.wanted_from_options(**options)
    for text in expected:
        assert text in caught.value.msg, caught.value.msg
    assert caught.value.msg.startswith(expected[0])


# ---- cluster references and registries ------------------------------------------------------------------

def test_clusters_by_name_or_uuid_in_the_order_first_named():
    clusters = account()
    plan = doks.plan_integration(clusters, REGISTRIES, [item(["acme-nyc3"], ["prod-nyc3-b", "id-prod-nyc3-a", "prod-nyc3-b"])])
    assert [c["name"] for c in plan.result["clusters"]] == ["prod-nyc3-b", "prod-nyc3-a"]
    assert len(plan.writes) == 1


def test_unknown_and_ambiguous_clusters_and_unknown_registries_all_at_once():
    clusters = account() + [cluster("twin", "nyc3", cid="id-twin-1"), cluster("twin", "nyc3", cid="id-twin-2")]
    review = doks.review_integration(clusters, REGISTRIES, layout(
        ("acme-nyc3", ["prod-nyc3-a", "lost", "twin"]), ("ghost", ["prod-nyc3-b"]), ("phantom", ["gone", "lost"])))
    assert review.plan is None
    assert review.problems == [
        "integrations[0].clusters: unknown DOKS cluster 'lost' (the account has: %s)." % ", ".join(sorted(c["name"] for c in clusters)),
        "integrations[0].clusters: several clusters are named 'twin'; use their UUIDs.",
        "integrations[1].registry: unknown registry 'ghost' (the account has: acme-ams3, acme-nyc3, acme-sfo3).",
        "integrations[2].clusters: unknown DOKS clusters 'gone', 'lost' (the account has: %s)." % ", ".join(sorted(c["name"] for c in clusters)),
        "integrations[2].registry: unknown registry 'phantom' (the account has: acme-ams3, acme-nyc3, acme-sfo3).",
    ]
    assert review.details == dict(unknown_clusters=["lost", "gone"], ambiguous_clusters=["twin"], unknown_registries=["ghost", "phantom"])
    with pytest.raises(DocrInputError) as caught:
        doks.plan_integration(clusters, REGISTRIES, layout(("acme-nyc3", ["lost"])))
    assert caught.value.details == dict(unknown_clusters=["lost"])
    assert "integrations[0].clusters: unknown DOKS cluster 'lost'" in caught.value.msg


def test_a_caller_names_its_own_variables():
    wanted = [doks.integration_item(["acme-nyc3", "ghost"], ["prod-nyc3-a", "lost"], where="docr_layout.registries[3]",
                                    clusters_option="docr_layout.registries[3].clusters",
                                    registries_option="docr_layout.registries[3].name")]
    review = doks.review_integration(account(), REGISTRIES, wanted)
    assert [p.split(":")[0] for p in review.problems] == ["docr_layout.registries[3].clusters", "docr_layout.registries[3].name"]
    # a registry the caller is about to create counts with the region it will have
    plan = doks.plan_integration(account(), dict(REGISTRIES, new="ams3"), [doks.integration_item(["new"], ["prod-ams3-a"])])
    assert [w.what for w in plan.writes] == ["add registries new to clusters prod-ams3-a"]


def test_same_named_clusters_by_uuid_are_kept_apart():
    clusters = [cluster("twin", "nyc3", cid="id-1"), cluster("twin", "nyc3", ["acme-nyc3"], cid="id-2")]
    plan = doks.plan_integration(clusters, REGISTRIES, [item(["acme-nyc3"], ["id-1", "id-2"])])
    assert plan.before == dict(clusters={"twin (id-1)": dict(registries=[]), "twin (id-2)": dict(registries=["acme-nyc3"])})
    assert plan.after["clusters"]["twin (id-1)"] == dict(registries=["acme-nyc3"])
    assert [(w.args[1], w.args[2]) for w in plan.writes] == [(["id-1"], ["acme-nyc3"])]


def test_the_public_helpers_keep_their_shapes():
    clusters = account()
    assert doks.resolve_clusters(clusters, ["prod-nyc3-a"])["prod-nyc3-a"]["id"] == "id-prod-nyc3-a"
    with pytest.raises(DocrInputError) as caught:
        doks.resolve_clusters(clusters, ["x"], "layout.clusters")
    assert caught.value.msg.startswith("layout.clusters: unknown DOKS cluster 'x'") and caught.value.msg.endswith(".")
    assert caught.value.details == dict(unknown_clusters=["x"], ambiguous_clusters=[])
    with pytest.raises(DocrInputError) as caught:
        doks.check_registries([dict(name="a")], ["a", "b"])
    assert caught.value.details == dict(unknown_registries=["b"])
    assert doks.group_writes({"c1": ["b", "a"], "c2": ["a", "b"], "c3": ["a"], "c4": []}) == [(["c3"], ["a"]), (["c1", "c2"], ["a", "b"])]
    pairs = doks.cross_region_pairs([(clusters[0], "acme-nyc3"), (clusters[0], "acme-sfo3")], REGISTRIES)
    assert [(c["name"], r, region) for c, r, region in pairs] == [("prod-nyc3-a", "acme-sfo3", "sfo3")]
    assert doks.registry_regions([dict(name="a", region="nyc3", subscription={})]) == {"a": "nyc3"}


def test_select_clusters_answers_only_what_exists():
    clusters = account() + [cluster("twin", "nyc3", cid="id-twin-1"), cluster("twin", "nyc3", cid="id-twin-2")]
    assert doks.select_clusters(clusters, ["nope"]) == []
    assert doks.select_clusters(clusters, []) == []
    assert [c["id"] for c in doks.select_clusters(clusters, ["twin", "id-prod-sfo3-a", "prod-sfo3-a", "x"])] == [
        "id-prod-sfo3-a", "id-twin-1", "id-twin-2"]


# ---- the per-registry path -----------------------------------------------------------------------------

def test_one_write_per_distinct_registry_set_and_the_whole_set_is_sent():
    clusters = account(prod_ams3_a=["acme-ams3"], prod_nyc3_b=["acme-nyc3"])
    wanted = layout(*[("acme-%s" % r, ["prod-%s-a" % r, "prod-%s-b" % r]) for r in ("nyc3", "sfo3", "ams3")]
                    + [("acme-sfo3", ["prod-nyc3-a"], True)])
    plan = doks.plan_integration(clusters, REGISTRIES, wanted)
    assert [(w.call, w.args) for w in plan.writes] == [
        (doks.change_registries, (True, ["id-prod-ams3-b"], ["acme-ams3"])),
        (doks.change_registries, (True, ["id-prod-nyc3-a"], ["acme-nyc3", "acme-sfo3"])),
        (doks.change_registries, (True, ["id-prod-sfo3-a", "id-prod-sfo3-b"], ["acme-sfo3"])),
    ]
    assert plan.writes[2].what == "add registries acme-sfo3 to clusters prod-sfo3-a, prod-sfo3-b"
    assert plan.before["clusters"]["prod-ams3-a"] == plan.after["clusters"]["prod-ams3-a"] == dict(registries=["acme-ams3"])
    assert plan.after["clusters"]["prod-nyc3-a"] == dict(registries=["acme-nyc3", "acme-sfo3"])
    assert plan.changed and plan.result["cross_region"] == [] and plan.warnings == []


def test_registry_enabled_is_not_read_on_the_per_registry_path():
    # the spec's example: registry_enabled false next to a list of registries; and the opposite
    clusters = [cluster("a", "nyc3", ["acme-nyc3"], enabled=False), cluster("b", "nyc3", [], enabled=True)]
    plan = doks.plan_integration(clusters, REGISTRIES, [item(["acme-nyc3"], ["a", "b"])])
    assert [w.args[1] for w in plan.writes] == [["id-b"]]
    assert plan.result["clusters"][0]["registry_enabled"] is False  # returned as read
    plan = doks.plan_integration(clusters, REGISTRIES, [item(["acme-nyc3"], ["b"])], state="absent")
    assert plan.writes == [] and not plan.changed


def test_absent_removes_only_the_named_registries():
    clusters = account(prod_nyc3_a=["acme-nyc3", "acme-sfo3"], prod_nyc3_b=["acme-sfo3"])
    plan = doks.plan_integration(clusters, REGISTRIES, [item(["acme-sfo3"], ["prod-nyc3-a", "prod-nyc3-b", "prod-ams3-a"])], "absent")
    assert [(w.args, w.what) for w in plan.writes] == [
        ((False, ["id-prod-nyc3-a", "id-prod-nyc3-b"], ["acme-sfo3"]), "remove registries acme-sfo3 from clusters prod-nyc3-a, prod-nyc3-b")]
    assert plan.after["clusters"] == {"prod-nyc3-a": dict(registries=["acme-nyc3"]), "prod-nyc3-b": dict(registries=[]),
                                      "prod-ams3-a": dict(registries=[])}


def test_absent_ignores_colocation():
    clusters = account(prod_ams3_a=["acme-nyc3"])
    plan = doks.plan_integration(clusters, REGISTRIES, [item(["acme-nyc3"], ["prod-ams3-a"])], "absent", require_colocation=True)
    assert len(plan.writes) == 1 and plan.result["cross_region"] == [] and plan.warnings == []


# ---- co-location ----------------------------------------------------------------------------------------

def test_cross_region_pairs_fail_by_default_naming_item_cluster_and_registry():
    clusters = account()
    review = doks.review_integration(clusters, REGISTRIES, layout(
        ("acme-nyc3", ["prod-nyc3-a", "prod-ams3-a"]), ("acme-sfo3", ["prod-ams3-b"], True)))
    assert review.plan is None
    assert review.problems == [
        "require_colocation: clusters and registries in different regions: integrations[0]: cluster prod-ams3-a (ams3) "
        "would pull from registry acme-nyc3 (nyc3). Use a registry in the cluster's region, or allow the pair explicitly "
        "(allow_cross_region: true on its integrations item, or require_colocation: false)."]
    assert review.details == dict(cross_region=[dict(cluster="prod-ams3-a", cluster_region="ams3", registry="acme-nyc3",
                                                     registry_region="nyc3")])
    # the module's form names no item
    review = doks.review_integration(clusters, REGISTRIES, [item(["acme-nyc3", "acme-sfo3"], ["prod-nyc3-a"])])
    assert "in different regions: cluster prod-nyc3-a (nyc3) would pull from registry acme-sfo3 (sfo3)." in review.message


def test_cross_region_pairs_warn_without_require_colocation():
    clusters = account()
    plan = doks.plan_integration(clusters, REGISTRIES, [item(["acme-nyc3"], ["prod-ams3-a", "prod-nyc3-a"])], require_colocation=False)
    assert len(plan.writes) == 1
    assert plan.result["cross_region"] == [dict(cluster="prod-ams3-a", cluster_region="ams3", registry="acme-nyc3", registry_region="nyc3")]
    assert len(plan.warnings) == 1 and "prod-ams3-a (ams3) would pull from registry acme-nyc3 (nyc3)" in plan.warnings[0]
    assert "prod-nyc3-a" not in plan.warnings[0]


def test_an_allowed_pair_passes_without_a_warning():
    clusters = account()
    plan = doks.plan_integration(clusters, REGISTRIES, layout(("acme-nyc3", ["prod-ams3-a"], True)), require_colocation=True)
    assert plan.warnings == [] and plan.result["cross_region"] == [] and len(plan.writes) == 1


def test_a_pair_named_twice_is_checked_once():
    clusters = account()
    review = doks.review_integration(clusters, REGISTRIES, layout(
        ("acme-nyc3", ["prod-ams3-a"]), ("acme-nyc3", ["prod-ams3-a", "prod-nyc3-a"])), require_colocation=False)
    assert len(review.cross_region) == 1 and "integrations[0]: cluster prod-ams3-a" in review.warnings[0]


def test_three_independent_problems_one_review_no_write():
    review = doks.review_integration(account(), REGISTRIES, layout(
        ("acme-nyc3", ["prod-nyc3-a", "lost"]), ("ghost", ["prod-sfo3-a"]), ("acme-ams3", ["prod-sfo3-b"])))
    assert review.plan is None and len(review.problems) == 3
    assert [p.split(":")[0] for p in review.problems] == ["integrations[0].clusters", "integrations[1].registry", "require_colocation"]
    assert set(review.details) == {"unknown_clusters", "unknown_registries", "cross_region"}
    with pytest.raises(DocrInputError) as caught:
        doks.plan_integration(account(), REGISTRIES, layout(("acme-nyc3", ["lost"]), ("ghost", ["prod-ams3-a"])))
    assert "'lost'" in caught.value.msg and "'ghost'" in caught.value.msg


# ---- the single-registry path ---------------------------------------------------------------------------

def test_single_registry_needs_exactly_one_registry_on_the_account():
    review = doks.review_integration(account(), REGISTRIES, [item(None, ["prod-nyc3-a", "lost"])])
    assert review.plan is None
    assert review.problems[1].startswith("clusters: unknown DOKS cluster 'lost'")
    assert review.problems[0].startswith("registries is required: the account has 3 registries (acme-ams3, acme-nyc3, acme-sfo3)")
    review = doks.review_integration(account(), {}, [item(None, ["prod-nyc3-a"])])
    assert review.problems == ["The account has no container registry to integrate; create one first (docr_registry)."]
    # absent on an account without registries: clears the flag where it is set
    clusters = [cluster("a", "nyc3", enabled=True), cluster("b", "nyc3", enabled=False)]
    plan = doks.plan_integration(clusters, {}, [item(None, ["a", "b"])], "absent")
    assert [(w.call, w.args) for w in plan.writes] == [(doks.remove_legacy_registry, (["id-a"],))]
    with pytest.raises(ValueError):
        doks.review_integration(account(), REGISTRIES, [item(None, ["a"]), item(["acme-nyc3"], ["b"])])


@pytest.mark.parametrize("registries, enabled, present_writes, absent_writes", [
    ([], False, ["kubernetes.add_registry"], []),
    (["acme-nyc3"], True, [], ["kubernetes.remove_registry", "kubernetes.remove_registries"]),   # mirrors_registries
    ([], True, [], ["kubernetes.remove_registry"]),                                             # legacy_only, flagged
    (["acme-nyc3"], False, [], ["kubernetes.remove_registries"]),                               # legacy_only, listed
])
def test_single_registry_accepts_either_signal(registries, enabled, present_writes, absent_writes):
    clusters = [cluster("a", "nyc3", registries, enabled=enabled)]
    one = {"acme-nyc3": "nyc3"}
    for state, expected in (("present", present_writes), ("absent", absent_writes)):
        plan = doks.plan_integration(clusters, one, [item(None, ["a"])], state)
        api = FakeApi(clusters, one, "legacy_only")
        for write in plan.writes:
            write.perform(api)
        assert [entry[0] for entry in api.log] == expected
        integrated = bool(registries) or enabled
        assert plan.before == dict(clusters={"a": dict(integrated=integrated)})
        assert plan.after == dict(clusters={"a": dict(integrated=state == "present")})


def test_single_registry_cross_region_is_checked_too():
    clusters = [cluster("a", "ams3")]
    review = doks.review_integration(clusters, {"acme-nyc3": "nyc3"}, [item(None, ["a"])])
    assert review.problems and "cluster a (ams3) would pull from registry acme-nyc3 (nyc3)" in review.message


# ---- applying, then planning again, under both readings ----------------------------------------------

@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("case", ["layout", "module", "single", "absent", "single-absent"])
def test_a_second_plan_after_the_writes_plans_nothing(reading, case):
    if case in ("single", "single-absent"):
        registries = {"acme-nyc3": "nyc3"}
        clusters = [cluster("a", "nyc3", ["acme-nyc3"] if case == "single-absent" else []),
                    cluster("b", "nyc3", enabled=case == "single-absent" and reading == "legacy_only")]
        wanted, state = [item(None, ["a", "b"])], "present" if case == "single" else "absent"
    else:
        registries = REGISTRIES
        clusters = account(prod_nyc3_a=["acme-nyc3", "acme-sfo3"], prod_ams3_b=["acme-ams3"])
        if reading == "legacy_only":
            clusters = [dict(c, registry_enabled=False) for c in clusters]
        if case == "layout":
            wanted, state = layout(*[("acme-%s" % r, ["prod-%s-a" % r, "prod-%s-b" % r]) for r in ("nyc3", "sfo3", "ams3")]), "present"
        elif case == "module":
            wanted, state = doks.wanted_from_options(clusters=["prod-nyc3-a", "prod-nyc3-b"], registries=["acme-nyc3"]), "present"
        else:
            wanted, state = doks.wanted_from_options(clusters=["prod-nyc3-a", "prod-ams3-b"], registries=["acme-sfo3", "acme-ams3"]), "absent"
    plan = doks.plan_integration(clusters, registries, wanted, state)
    assert plan.writes and plan.changed
    api = apply(plan, clusters, registries, reading)
    again = doks.plan_integration(api.state(), registries, wanted, state)
    assert again.writes == [] and not again.changed
    assert again.before == plan.after  # the plan predicted what the writes did


def test_a_failed_write_names_its_registries_and_clusters():
    class Failing(object):
        def call(self, *_args, **_kwargs):
            raise DocrError("boom")
    plan = doks.plan_integration(account(), REGISTRIES, [item(["acme-nyc3"], ["prod-nyc3-a"])])
    with pytest.raises(DocrError) as caught:
        plan.writes[0].perform(Failing())
    assert caught.value.msg == "boom (while adding registries acme-nyc3 to clusters id-prod-nyc3-a)"


def test_nothing_to_do_is_an_empty_plan():
    clusters = account(prod_nyc3_a=["acme-nyc3"])
    plan = doks.plan_integration(clusters, REGISTRIES, [item(["acme-nyc3"], ["prod-nyc3-a"])])
    assert plan.writes == [] and plan.before == plan.after == dict(clusters={"prod-nyc3-a": dict(registries=["acme-nyc3"])})
    assert plan.result == dict(clusters=[clusters[0]], cross_region=[])
