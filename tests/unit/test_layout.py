"""The layout planner (plugins/module_utils/_layout.py) without HTTP: its shape check, its reads, every rule,
and the plan. The role and the module run against the simulator in tests/unit/test_registry_layout.py."""

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _layout

OPTIONS = dict(regions=["nyc3", "sfo3", "ams3", "fra1"], subscription_tiers=[
    dict(slug="starter", eligible=False, eligibility_reasons=["OverRepositoryLimit"]),
    dict(slug="basic", eligible=True, eligibility_reasons=[]),
    dict(slug="professional", eligible=True, eligibility_reasons=[]),
])


def cluster(name, region, registries=(), uuid=None):
    return dict(id=uuid or "id-" + name, name=name, region=region, registry_enabled=bool(registries),
                registries=sorted(registries))


CLUSTERS = [cluster("prod-%s-%s" % (r, s), r) for r in ("nyc3", "sfo3", "ams3") for s in ("a", "b")]


def registry(name, region, tier="professional"):
    return dict(name=name, region=region, subscription=dict(tier=dict(slug=tier)))


def account(registries=(), clusters=None, options=None, repositories=None, tier=None):
    return dict(registries=list(registries), clusters=CLUSTERS if clusters is None else clusters, options=options,
                subscription_tier=tier, repositories=repositories or {})


def shape(raw):
    layout, problems = _layout.check_shape(raw)
    assert problems == [], problems
    return layout


def example(**overrides):
    raw = dict(subscription_tier="professional", registries=[
        dict(name="acme-%s" % r, region=r, clusters=["prod-%s-a" % r, "prod-%s-b" % r]) for r in ("nyc3", "sfo3", "ams3")
    ])
    raw.update(overrides)
    return raw


def problems_of(raw, acct):
    found, _cross = _layout.problems(shape(raw), acct)
    return found


# ---- shape ---------------------------------------------------------------------------------------

def test_shape_defaults_and_booleans():
    layout = shape(dict(registries=[dict(name="a", region="nyc3", force="yes")], require_colocation="no"))
    assert layout["require_colocation"] is False and layout["schedule_gc"] is False
    entry, = layout["registries"]
    assert (entry["state"], entry["force"], entry["clusters"], entry["allow_cross_region"]) == ("present", True, [], False)


def test_shape_lists_every_problem():
    _layout_, problems = _layout.check_shape(dict(subscription_tier="gold", colour="red", registries=[
        dict(name="a", clusters="prod", force="maybe"), "b", dict(name="c", region="nyc3", state="gone", gc=[1]),
        dict(name=["d"], region="nyc3"), dict(region="nyc3")]))
    text = "\n".join(problems)
    for needle in ("docr_layout: unknown key colour", "docr_layout.subscription_tier must be one of",
                   "docr_layout.registries[0].region is required", "docr_layout.registries[0].clusters must be a list",
                   "docr_layout.registries[0].force must be a boolean", "docr_layout.registries[1] must be a dictionary",
                   "docr_layout.registries[2].state must be present or absent", "docr_layout.registries[2].gc must be a dictionary",
                   "docr_layout.registries[3].name must be a registry name (a string), got ['d']",
                   "docr_layout.registries[4].name is required"):
        assert needle in text, (needle, text)
    assert len(problems) == 10, problems
    assert _layout.check_shape([])[1] and _layout.check_shape(dict())[1]


def test_absent_entry_needs_no_region():
    assert _layout.check_shape(dict(registries=[dict(name="old", state="absent")]))[1] == []


# ---- reads ---------------------------------------------------------------------------------------

def test_needs_reads_only_what_the_plan_uses():
    layout = shape(example())
    existing = [registry("acme-%s" % r, r) for r in ("nyc3", "sfo3", "ams3")]
    # converged: nothing beyond the two lists
    assert _layout.needs(layout, existing) == dict(options=False, subscription=False, count=[])
    # registries to create: the options (regions DOCR offers); the tier is named, so no subscription read
    assert _layout.needs(layout, existing[:1]) == dict(options=True, subscription=False, count=[])
    # a single create in a region the spec lists is the converge's first write: the API validates its region
    # (as docr_registry does), except in check mode, where the plan is the whole answer
    assert _layout.needs(layout, existing[:2]) == dict(options=False, subscription=False, count=[])
    assert _layout.needs(layout, existing[:2], check_mode=True)["options"] is True
    single = shape(dict(subscription_tier="professional", registries=[dict(name="x", region="nyc33")]))
    assert _layout.needs(single, existing)["options"] is True
    # no registry yet and no tier named: the subscription, read on its own
    assert _layout.needs(shape(example(subscription_tier=None)), []) == dict(options=True, subscription=True, count=[])
    # a tier going down: its eligibility, in the options
    assert _layout.needs(shape(example(subscription_tier="basic")), existing)["options"] is True
    # the repository count of a registry marked absent without force, and only of it
    raw = example()
    raw["registries"] += [dict(name="old", region="fra1", state="absent"), dict(name="gone", region="fra1", state="absent", force=True),
                          dict(name="never", region="fra1", state="absent")]
    assert _layout.needs(shape(raw), existing + [registry("old", "fra1"), registry("gone", "fra1")])["count"] == ["old"]


# ---- rules, one at a time ------------------------------------------------------------------------

def test_names_and_duplicates():
    raw = example()
    raw["registries"] += [dict(name="Bad_Name", region="nyc3"), dict(name="acme-sfo3", region="sfo3")]
    found = problems_of(raw, account(options=OPTIONS))
    assert any(p.startswith("docr_layout.registries[3].name 'Bad_Name' is not a valid registry name") for p in found), found
    assert any(p.startswith("docr_layout.registries[4].name: registry 'acme-sfo3' appears more than once") and
               "also docr_layout.registries[1]" in p for p in found), found


def test_region_cannot_move():
    found = problems_of(example(), account([registry("acme-nyc3", "fra1"), registry("acme-sfo3", "sfo3"), registry("acme-ams3", "ams3")]))
    assert found == ["docr_layout.registries[0].region=nyc3 does not match registry 'acme-nyc3', which is in fra1. A registry "
                     "cannot move between regions: set docr_layout.registries[0].region to fra1, or create a registry with "
                     "another name there."]


def test_region_offered_only_for_creates_and_not_a_cross_region_pair():
    raw = example()
    raw["registries"][0]["region"] = "nyc33"
    found = problems_of(raw, account(options=OPTIONS))
    assert found == ["docr_layout.registries[0].region=nyc33 is not a region DOCR offers; choose one of: nyc3, sfo3, ams3, fra1."]


def test_unknown_and_ambiguous_clusters():
    clusters = CLUSTERS + [cluster("twin", "nyc3", uuid="u1"), cluster("twin", "nyc3", uuid="u2")]
    raw = example()
    raw["registries"][0]["clusters"] = ["prod-nyc3-a", "ghost", "twin", "u1"]
    found = problems_of(raw, account(clusters=clusters, options=OPTIONS))
    assert len(found) == 2 and found[0].startswith("docr_layout.registries[0].clusters: unknown DOKS cluster 'ghost'"), found
    assert found[1] == "docr_layout.registries[0].clusters: several clusters are named 'twin'; use their UUIDs."


def test_cross_region_pairs_and_colocation():
    raw = example()
    raw["registries"][0]["clusters"] = ["prod-nyc3-a", "prod-ams3-a"]
    found = problems_of(raw, account(options=OPTIONS))
    assert found == ["docr_layout.registries[0].clusters: cluster prod-ams3-a (ams3) and registry acme-nyc3 (nyc3) are in "
                     "different regions; set docr_layout.registries[0].allow_cross_region: true to accept it (cross-region "
                     "pulls are slower and billed)."]
    raw["registries"][0]["allow_cross_region"] = True
    assert problems_of(raw, account(options=OPTIONS)) == []
    raw["registries"][0]["allow_cross_region"] = False
    raw["require_colocation"] = False
    found, cross = _layout.problems(shape(raw), account(options=OPTIONS))
    assert found == [] and cross == ["cluster prod-ams3-a (ams3) and registry acme-nyc3 (nyc3) are in different regions"]


def test_tiers_and_counts():
    assert any("docr_layout.subscription_tier=basic allows one registry, not 3; only professional allows several" in p
               for p in problems_of(example(subscription_tier="basic"), account(options=OPTIONS)))
    # the account's tier counts when the layout names none; other registries of the account count too
    others = [registry("other-%d" % i, "nyc3") for i in range(8)]
    found = problems_of(example(subscription_tier=None), account(others, options=OPTIONS))
    assert found == ["docr_layout.registries: the account would hold 11 registries (3 in the layout, 8 others): "
                     "docr_layout.subscription_tier=professional allows at most 10 registries, not 11."]
    found = problems_of(example(subscription_tier=None), account(options=OPTIONS))
    assert found == ["The account has no container registry subscription yet: set docr_layout.subscription_tier "
                     "(starter, basic or professional) to create its first registry."]
    assert problems_of(example(subscription_tier=None), account(options=OPTIONS, tier="professional")) == []


def test_tier_down_needs_eligibility():
    raw = dict(subscription_tier="starter", registries=[dict(name="solo", region="nyc3")])
    found = problems_of(raw, account([registry("solo", "nyc3", "basic")], options=OPTIONS))
    assert found == ["docr_layout.subscription_tier=starter: the account is not eligible to move from basic to starter "
                     "(OverRepositoryLimit)."]


def test_delete_holding_images_needs_force():
    raw = dict(subscription_tier="professional", registries=[dict(name="old", region="nyc3", state="absent")])
    found = problems_of(raw, account([registry("old", "nyc3")], repositories={"old": 2}))
    assert found == ["docr_layout.registries[0].state: Registry 'old' still holds 2 repositories; deleting it deletes every "
                     "image in it. Set docr_layout.registries[0].force=true to delete it anyway."]
    assert problems_of(raw, account([registry("old", "nyc3")], repositories={"old": 0})) == []
    raw["registries"][0]["force"] = True
    assert problems_of(raw, account([registry("old", "nyc3")])) == []
    # fail closed: a registry that was not counted is not deleted without force
    raw["registries"][0]["force"] = False
    found = problems_of(raw, account([registry("old", "nyc3")]))
    assert len(found) == 1 and "was not counted for repositories" in found[0], found


def test_rules_are_the_services_own():
    """The layout's messages are those of _registry and _doks, with the layout's variables as options."""
    from ansible_collections.dockyard.docr.plugins.module_utils import _registry
    raw = dict(subscription_tier="starter", registries=[dict(name="solo", region="nyc3")])
    options = dict(OPTIONS, subscription_tiers=[t for t in OPTIONS["subscription_tiers"] if t["slug"] != "starter"])
    found = problems_of(raw, account([registry("solo", "nyc3", "basic")], options=options))
    assert found == _registry.downgrade_problems("basic", "starter", options, "docr_layout.subscription_tier")
    assert "no such tier" in found[0]        # a tier the options do not list is refused (fail closed)


def test_gc_settings_checked_only_with_schedule_gc():
    raw = example()
    raw["registries"][1]["gc"] = dict(type="untagged_manifests_only", min_interval="1 week", colour="red")
    assert problems_of(raw, account(options=OPTIONS)) == []
    raw["schedule_gc"] = True
    found = problems_of(raw, account(options=OPTIONS))
    assert found and all(p.startswith("docr_layout.registries[1].gc: registry 'acme-sfo3': ") for p in found), found
    text = " ".join(found)
    assert "colour" in text and "min_interval" in text


def test_three_independent_problems_at_once():
    raw = example()
    raw["registries"][0]["clusters"] = ["prod-nyc3-a", "ghost"]           # unknown cluster
    raw["registries"][1]["clusters"] = ["prod-ams3-a"]                    # cross-region pair
    raw["registries"][2]["name"] = "Bad_Name"                             # malformed name
    found = problems_of(raw, account(options=OPTIONS))
    assert len(found) == 3, found
    wanted = ["docr_layout.registries[0].clusters:", "docr_layout.registries[1].clusters:", "docr_layout.registries[2].name"]
    assert [p.split(" ", 1)[0] for p in sorted(found)] == wanted


# ---- the plan ------------------------------------------------------------------------------------

def test_plan_of_a_first_converge():
    layout = shape(example())
    acct = account(options=OPTIONS)
    plan = _layout.plan(layout, acct)
    assert plan["registries"] == [dict(name="acme-%s" % r, region=r, subscription_tier="professional") for r in ("nyc3", "sfo3", "ams3")]
    assert plan["integrations"] == [dict(registry="acme-%s" % r, clusters=["id-prod-%s-a" % r, "id-prod-%s-b" % r], allow_cross_region=False)
                                    for r in ("nyc3", "sfo3", "ams3")]
    assert len(plan["integration_writes"]) == 3            # one per distinct registry set
    assert (plan["removals"], plan["deletes"], plan["tier_after_deletes"]) == ([], [], None)
    assert plan["before"]["registries"] == {} and plan["after"]["registries"] == {"acme-nyc3": "nyc3", "acme-sfo3": "sfo3", "acme-ams3": "ams3"}
    assert plan["after"]["clusters"]["prod-sfo3-b"] == ["acme-sfo3"] and plan["after"]["subscription_tier"] == "professional"
    assert plan["before"] != plan["after"]


def converged():
    regs = [registry("acme-%s" % r, r) for r in ("nyc3", "sfo3", "ams3")]
    clusters = [cluster("prod-%s-%s" % (r, s), r, ["acme-%s" % r]) for r in ("nyc3", "sfo3", "ams3") for s in ("a", "b")]
    return account(regs, clusters=clusters)


def test_plan_of_a_converged_layout_is_empty():
    plan = _layout.plan(shape(example()), converged())
    assert plan["before"] == plan["after"]
    assert [plan[k] for k in ("registries", "integrations", "integration_writes", "removals", "deletes")] == [[]] * 5
    assert plan["tier_after_deletes"] is None and plan["present"] == ["acme-nyc3", "acme-sfo3", "acme-ams3"]


def test_plan_of_drift_tier_and_gc():
    acct = converged()
    acct["clusters"][3] = dict(acct["clusters"][3], registries=[])      # prod-sfo3-b lost its registry
    for item in acct["registries"]:
        item["subscription"] = dict(tier=dict(slug="basic"))
    raw = example()
    raw["registries"][0]["gc"] = dict(type="untagged_manifests_only")
    plan = _layout.plan(shape(raw), acct)
    assert plan["integrations"] == [dict(registry="acme-sfo3", clusters=["id-prod-sfo3-b"], allow_cross_region=False)]
    # the tier goes up: one docr_registry call on a registry the layout keeps, before anything else
    assert plan["registries"] == [dict(name="acme-nyc3", region="nyc3", subscription_tier="professional")]
    assert plan["before"]["subscription_tier"] == "basic" and plan["after"]["subscription_tier"] == "professional"
    assert plan["gc"] == [dict(type="untagged_manifests_only", name="acme-nyc3")]


def test_plan_of_removals_deletes_and_a_tier_going_down():
    regs = [registry("solo", "nyc3"), registry("old", "fra1")]
    clusters = [cluster("prod-nyc3-a", "nyc3", ["old", "solo"]), cluster("prod-nyc3-b", "nyc3", ["solo"])]
    raw = dict(subscription_tier="basic", registries=[dict(name="solo", region="nyc3", clusters=["prod-nyc3-a"]),
                                                      dict(name="old", region="fra1", state="absent", force=True)])
    plan = _layout.plan(shape(raw), account(regs, clusters=clusters))
    assert plan["removals"] == [dict(registry="old", clusters=["id-prod-nyc3-a"])]
    assert plan["deletes"] == [dict(name="old", force=True)]
    # down to basic only once "old" is gone
    assert plan["registries"] == [] and plan["tier_after_deletes"] == dict(name="solo", region="nyc3", subscription_tier="basic")
    assert plan["after"] == dict(subscription_tier="basic", registries={"solo": "nyc3"},
                                 clusters={"prod-nyc3-a": ["solo"], "prod-nyc3-b": ["solo"]})


@pytest.mark.parametrize("refs", [["prod-nyc3-a", "id-prod-nyc3-a"], ["id-prod-nyc3-a", "prod-nyc3-a"]])
def test_plan_names_a_cluster_once_however_it_is_referred_to(refs):
    raw = dict(subscription_tier="professional", registries=[dict(name="acme-nyc3", region="nyc3", clusters=refs)])
    plan = _layout.plan(shape(raw), account([registry("acme-nyc3", "nyc3")]))
    assert plan["integrations"] == [dict(registry="acme-nyc3", clusters=["id-prod-nyc3-a"], allow_cross_region=False)]
