# -*- coding: utf-8 -*-
"""The registry planner and its rules, without HTTP: each rule, each error naming its option, no plan on an error."""

import json
import os

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _registry as reg
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError, DocrError, DocrInputError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sub(tier):
    return {"tier": {"slug": tier, "name": tier.title(), "included_repositories": 5}, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"}


def registries(tier, *names_regions):
    return [{"name": name, "region": region, "subscription": sub(tier)} for name, region in names_regions]


def options(regions=("nyc3", "fra1"), ineligible=()):
    return {"available_regions": list(regions), "subscription_tiers": [
        {"slug": slug, "name": slug.title(), "included_repositories": index, "eligible": slug not in ineligible,
         "eligibility_reasons": ["OverRepositoryLimit"] if slug in ineligible else []}
        for index, slug in enumerate(reg.TIERS)]}


def current(listed, **read):
    """``current`` as ``read_registry`` builds it: the list, its subscription when it carries one, then the reads."""
    found = dict(registries=listed)
    if reg.listed_subscription(listed):
        found["subscription"] = reg.listed_subscription(listed)
    found.update(read)
    return found


def params(name="acme", **kwargs):
    out = dict(name=name, state="present", region=None, subscription_tier=None, force=False)
    out.update(kwargs)
    return out


def refused(cur, par, *words):
    """The planner refuses, naming every word; no plan (so no write) comes out."""
    with pytest.raises(DocrInputError) as caught:
        reg.plan_registry(cur, par)
    for word in words:
        assert word in caught.value.msg, caught.value.msg
    return caught.value


def calls_of(plan):
    return [write.call for write in plan.writes]


# ---- the rules ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tier, count, problem", [
    ("starter", 0, False), ("starter", 1, False), ("starter", 2, True),
    ("basic", 1, False), ("basic", 2, True),
    ("professional", 2, False), ("professional", 10, False), ("professional", 11, True),
])
def test_tier_problems(tier, count, problem):
    found = reg.tier_problems(tier, count)
    assert bool(found) is problem
    for text in found:
        assert text.startswith("subscription_tier=%s" % tier)
    if found and tier != "professional":
        assert "professional" in found[0]
    assert reg.tier_problems("basic", 3, option="layout.tier")[0].startswith("layout.tier=basic")
    assert reg.tier_problems("gold", 1)[0].startswith("subscription_tier=gold")


def test_capacity_problems():
    assert reg.capacity_problems("two", [], "basic") == []
    [text] = reg.capacity_problems("two", ["one"], "basic")
    assert "'two'" in text and "one" in text and "subscription_tier=professional" in text
    assert reg.capacity_problems("r9", ["r%d" % i for i in range(9)], "professional") == []
    [text] = reg.capacity_problems("r10", ["r%d" % i for i in range(10)], "professional")
    assert "10 registries" in text
    assert reg.capacity_problems("two", ["one"], None) == []  # no tier: another rule says so


def test_downgrade_problems():
    assert reg.is_downgrade("basic", "starter") and not reg.is_downgrade("basic", "professional")
    assert not reg.is_downgrade(None, "starter") and not reg.is_downgrade("basic", "basic")
    assert reg.downgrade_problems("basic", "starter", options()) == []
    [text] = reg.downgrade_problems("basic", "starter", options(ineligible=["starter"]))
    assert text.startswith("subscription_tier=starter") and "OverRepositoryLimit" in text
    # options that do not list the tier: refused, never assumed eligible
    [text] = reg.downgrade_problems("basic", "starter", {"subscription_tiers": []})
    assert text.startswith("subscription_tier=starter")
    assert reg.downgrade_problems("basic", "starter", None)


def test_region_problems():
    assert reg.region_problem("fra1", ["nyc3", "fra1"]) is None
    text = reg.region_problem("nyc33", ["nyc3", "fra1"])
    assert text.startswith("region=nyc33") and "nyc3, fra1" in text
    assert reg.region_problem("nyc33", ["nyc3"], option="registries[0].region").startswith("registries[0].region=nyc33")
    assert reg.region_problem("nyc33", []) is None  # no list: no verdict (the API decides)
    assert reg.region_problem(None, ["nyc3"]) is None
    assert reg.moved_region_problem("acme", None, "fra1") is None
    assert reg.moved_region_problem("acme", "fra1", "fra1") is None
    text = reg.moved_region_problem("acme", "sfo3", "fra1")
    assert text.startswith("region=sfo3") and "fra1" in text and "cannot move" in text


def test_delete_problem():
    assert reg.delete_problem("acme", 0, False) is None
    assert reg.delete_problem("acme", 3, True) is None
    assert reg.delete_problem("acme", None, True) is None
    assert "1 repository;" in reg.delete_problem("acme", 1, False)
    assert "3 repositories" in reg.delete_problem("acme", 3, False) and "force=true" in reg.delete_problem("acme", 3, False)
    assert "force=true" in reg.delete_problem("acme", None, False)  # not counted: fail closed


def test_spec_regions_are_the_spec_enum():
    with open(os.path.join(REPO, "tests", "openapi", "registry-subset.bundled.json"), encoding="utf-8") as handle:
        spec = json.load(handle)
    body = spec["paths"]["/v2/registries"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert tuple(body["properties"]["region"]["enum"]) == reg.SPEC_REGIONS
    assert tuple(body["properties"]["subscription_tier_slug"]["enum"]) == reg.TIERS


# ---- what is read -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("listed, par, check_mode, wanted", [
    # unchanged, with or without a tier: the list alone
    (registries("basic", ("acme", "fra1")), params(), False, []),
    (registries("basic", ("acme", "fra1")), params(subscription_tier="basic", region="fra1"), False, []),
    # a create on an account with registries, the tier unchanged: nothing more (the API validates the create)
    (registries("professional", ("one", "nyc3")), params(region="fra1"), False, []),
    (registries("professional", ("one", "nyc3")), params(region="fra1", subscription_tier="professional"), False, []),
    # the first registry with a tier: the create carries it
    ([], params(region="fra1", subscription_tier="basic"), False, []),
    # the first registry without a tier: the subscription, which an empty list does not carry
    ([], params(region="fra1"), False, ["subscription"]),
    # a region the spec does not list: checked before anything is sent
    (registries("professional", ("one", "nyc3")), params(region="mars1"), False, ["options"]),
    # check mode validates the name and the region
    (registries("professional", ("one", "nyc3")), params(region="fra1"), True, ["name_available", "options"]),
    (registries("professional", ("one", "nyc3")), params(), True, ["name_available"]),
    # a create after a tier change: the name and the region first
    (registries("basic", ("one", "nyc3")), params(region="fra1", subscription_tier="professional"), False,
     ["name_available", "options"]),
    # upgrade: nothing more; in check mode, the options (the new tier's terms)
    (registries("basic", ("acme", "fra1")), params(subscription_tier="professional"), False, []),
    (registries("basic", ("acme", "fra1")), params(subscription_tier="professional"), True, ["options"]),
    # downgrade: the eligibility
    (registries("basic", ("acme", "fra1")), params(subscription_tier="starter"), False, ["options"]),
    # delete: the count, unless forced; absent: nothing
    (registries("basic", ("acme", "fra1")), params(state="absent"), False, ["repositories"]),
    (registries("basic", ("acme", "fra1")), params(state="absent", force=True), False, []),
    ([], params(state="absent"), False, []),
])
def test_registry_reads(listed, par, check_mode, wanted):
    assert reg.registry_reads(current(listed), par, check_mode) == wanted


def test_registry_reads_a_list_without_subscriptions():
    listed = [{"name": "acme", "region": "fra1"}]
    assert reg.registry_reads(current(listed), params(subscription_tier="basic")) == ["subscription"]
    assert reg.registry_reads(current(listed), params()) == []
    assert reg.registry_reads(current(listed), params(name="two")) == ["subscription"]
    assert reg.registry_reads(current(listed, subscription=sub("professional")), params(name="two")) == []


def test_the_planner_refuses_to_plan_without_what_it_needs():
    with pytest.raises(DocrError) as caught:
        reg.plan_registry(current(registries("basic", ("acme", "fra1"))), params(state="absent"))
    assert not isinstance(caught.value, DocrInputError) and "repositories" in caught.value.msg
    with pytest.raises(DocrError):
        reg.plan_registry(current([]), params())


# ---- plans --------------------------------------------------------------------------------------------------------

def test_unchanged_plans_nothing():
    listed = registries("basic", ("acme", "fra1"))
    plan = reg.plan_registry(current(listed), params(region="fra1", subscription_tier="basic"))
    assert plan.writes == [] and plan.before == plan.after == {"name": "acme", "region": "fra1", "subscription_tier": "basic"}
    assert plan.result["registry"]["server_url"] == "registry.digitalocean.com/acme"
    assert plan.result["subscription"]["tier"] == "basic"
    plan = reg.plan_registry(current(listed), params())
    assert plan.writes == [] and plan.before == plan.after == {"name": "acme", "region": "fra1"}
    assert plan.result["subscription"] is None


def test_first_registry_signs_up_in_the_create():
    plan = reg.plan_registry(current([]), params(region="fra1", subscription_tier="basic"))
    [create] = plan.writes
    assert create.call is reg.create_new_registry and create.args == ("acme", "fra1", "basic")
    assert plan.before is None and plan.after == {"name": "acme", "region": "fra1", "subscription_tier": "basic"}
    assert plan.result["subscription"]["tier"] == "basic" and plan.result["subscription"]["tier_name"] is None
    assert plan.result["registry"]["created_at"] is None and plan.result["registry"]["storage_usage_bytes"] == 0


def test_create_on_an_account_that_holds_a_subscription():
    plan = reg.plan_registry(current([], subscription=sub("basic")), params(region="fra1"))
    [create] = plan.writes
    assert create.args == ("acme", "fra1", None)
    assert plan.result["subscription"]["tier"] == "basic"
    # a known subscription of no tier is a sign-up
    plan = reg.plan_registry(current([], subscription=None), params(subscription_tier="starter"))
    assert plan.writes[0].args == ("acme", None, "starter")


def test_second_registry_on_professional():
    listed = registries("professional", ("one", "nyc3"))
    plan = reg.plan_registry(current(listed), params(name="two", region="fra1"))
    assert calls_of(plan) == [reg.create_new_registry] and plan.writes[0].args == ("two", "fra1", None)
    assert plan.result["subscription"]["tier"] == "professional"
    assert plan.after == {"name": "two", "region": "fra1"}


def test_second_registry_with_the_upgrade_it_needs():
    listed = registries("basic", ("one", "nyc3"))
    cur = current(listed, name_available=True, options=options())
    plan = reg.plan_registry(cur, params(name="two", region="fra1", subscription_tier="professional"))
    assert calls_of(plan) == [reg.update_subscription, reg.create_new_registry]
    assert plan.writes[0].args == ("professional",) and plan.writes[1].args == ("two", "fra1", None)
    assert plan.result["subscription"]["tier"] == "professional" and plan.result["subscription"]["tier_name"] == "Professional"


def test_first_registry_without_a_tier_is_refused():
    refused(current([], subscription=None), params(), "subscription_tier", "first registry")


def test_capacity_refused():
    refused(current(registries("basic", ("one", "nyc3"))), params(name="two"), "subscription_tier=professional", "one")
    listed = registries("professional", *[("r%d" % i, "nyc3") for i in range(10)])
    refused(current(listed), params(name="r10"), "10 registries")
    # asking to move down to basic to create a second registry
    refused(current(registries("professional", ("one", "nyc3")), name_available=True, options=options()),
            params(name="two", subscription_tier="basic"), "subscription_tier=professional")


def test_downgrades():
    two = registries("professional", ("a", "nyc3"), ("b", "sfo3"))
    refused(current(two, options=options()), params(name="a", subscription_tier="basic"), "subscription_tier=basic")
    one = registries("basic", ("a", "nyc3"))
    refused(current(one, options=options(ineligible=["starter"])), params(name="a", subscription_tier="starter"),
            "subscription_tier=starter", "OverRepositoryLimit")
    plan = reg.plan_registry(current(one, options=options()), params(name="a", subscription_tier="starter"))
    assert calls_of(plan) == [reg.update_subscription]
    assert plan.before["subscription_tier"] == "basic" and plan.after["subscription_tier"] == "starter"


def test_a_registry_cannot_move():
    listed = registries("basic", ("acme", "fra1"))
    refused(current(listed), params(region="sfo3"), "region=sfo3", "fra1")
    # with a tier change as well: still nothing planned
    refused(current(listed), params(region="sfo3", subscription_tier="professional"), "region=sfo3")


def test_every_problem_of_a_create_at_once():
    listed = registries("basic", ("one", "nyc3"))
    error = refused(current(listed, name_available=False, options=options()), params(name="taken", region="nyc33"),
                    "region=nyc33", "name 'taken' is already taken", "subscription_tier=professional")
    assert "repositories" not in error.details


def test_region_checked_when_the_options_were_read():
    listed = registries("professional", ("one", "nyc3"))
    refused(current(listed, options=options()), params(name="two", region="mars1"), "region=mars1", "nyc3, fra1")
    plan = reg.plan_registry(current(listed, options=options()), params(name="two", region="fra1"))
    assert calls_of(plan) == [reg.create_new_registry]


def test_deletes():
    listed = registries("basic", ("acme", "fra1"))
    error = refused(current(listed, repositories=2), params(state="absent"), "2 repositories", "force=true")
    assert error.details == {"repositories": 2}
    plan = reg.plan_registry(current(listed, repositories=0), params(state="absent"))
    assert calls_of(plan) == [reg.delete_registry] and plan.writes[0].args == ("acme",)
    assert plan.before == {"name": "acme", "region": "fra1"} and plan.after is None
    assert plan.result == {"registry": None, "subscription": None}
    plan = reg.plan_registry(current(listed), params(state="absent", force=True))
    assert calls_of(plan) == [reg.delete_registry]
    plan = reg.plan_registry(current([]), params(state="absent"))
    assert plan.writes == [] and plan.before is None and plan.after is None


# ---- settling from the answers --------------------------------------------------------------------------------

def test_settle_takes_the_answers():
    listed = registries("basic", ("one", "nyc3"))
    cur = current(listed, name_available=True, options=options())
    par = params(name="two", subscription_tier="professional")
    plan = reg.plan_registry(cur, par)
    created = {"name": "two", "region": "nyc3", "created_at": "2026-01-02T00:00:00Z", "storage_usage_bytes": 0}
    after = reg.settle_registry(plan, [sub("professional"), created], par)
    assert after == {"name": "two", "region": "nyc3", "subscription_tier": "professional"}
    assert plan.result["registry"]["created_at"] == "2026-01-02T00:00:00Z"
    assert plan.result["subscription"]["tier"] == "professional" and plan.result["subscription"]["created_at"]


def test_settle_refuses_a_registry_found_in_another_region():
    par = params(region="fra1", subscription_tier="basic")
    plan = reg.plan_registry(current([]), par)
    with pytest.raises(DocrInputError) as caught:
        reg.settle_registry(plan, [{"name": "acme", "region": "sfo3"}], par)
    assert "region=fra1" in caught.value.msg


# ---- the create's refusals, explained ---------------------------------------------------------------------------

class Scripted(object):
    """A client answering each operation from a script: a body, or an exception to raise."""

    def __init__(self, **script):
        self.script = dict((key, list(value)) for key, value in script.items())
        self.log = []

    def call(self, operation, *args, **kwargs):
        self.log.append(operation.split(".")[-1])
        answer = self.script[operation.split(".")[-1]].pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def refusal(status):
    return DocrApiError("The DigitalOcean API refused: HTTP %d" % status, status_code=status)


def test_create_taken_by_another_account_names_the_name():
    api = Scripted(create=[refusal(409)], get=[None])
    with pytest.raises(DocrInputError) as caught:
        reg.create_new_registry(api, "popular", "fra1")
    assert caught.value.msg.startswith("name 'popular' is already taken")


def test_create_refused_for_its_region_names_the_region():
    api = Scripted(create=[refusal(422)], get_options=[{"options": options(regions=["nyc3"])}])
    with pytest.raises(DocrInputError) as caught:
        reg.create_new_registry(api, "acme", "sfo2")
    assert caught.value.msg.startswith("region=sfo2") and api.log == ["create", "get_options"]
    # the region is offered: the refusal stands as the API said it
    api = Scripted(create=[refusal(422)], get_options=[{"options": options(regions=["sfo2"])}])
    with pytest.raises(DocrApiError) as caught:
        reg.create_new_registry(api, "acme", "sfo2")
    assert caught.value.status_code == 422


def test_sign_up_refused_because_the_account_kept_another_tier():
    created = {"registry": {"name": "acme", "region": "fra1"}}
    api = Scripted(create=[refusal(422), created], get_subscription=[{"subscription": sub("basic")}],
                   update_subscription=[{"subscription": sub("professional")}])
    assert reg.create_new_registry(api, "acme", None, "professional") == created["registry"]
    assert api.log == ["create", "get_subscription", "update_subscription", "create"]
    # the same tier, or none: nothing to move, the refusal stands
    for held in ({"subscription": sub("professional")}, {}):
        api = Scripted(create=[refusal(422)], get_subscription=[held])
        with pytest.raises(DocrApiError):
            reg.create_new_registry(api, "acme", None, "professional")
    # a failure after the move says changed
    api = Scripted(create=[refusal(422), refusal(500)], get_subscription=[{"subscription": sub("basic")}],
                   update_subscription=[{"subscription": sub("professional")}])
    with pytest.raises(DocrApiError) as caught:
        reg.create_new_registry(api, "acme", None, "professional")
    assert caught.value.details["changed"] is True


def test_other_refusals_pass_through():
    api = Scripted(create=[refusal(500)])
    with pytest.raises(DocrApiError) as caught:
        reg.create_new_registry(api, "acme", "fra1", "basic")
    assert caught.value.status_code == 500 and api.log == ["create"]
