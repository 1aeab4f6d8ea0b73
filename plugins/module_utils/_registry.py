# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: registry, subscription and repository calls, their normalisers, and the
pure registry planner.

The normalisers are shared by ``docr_registry`` and ``docr_registry_info`` so their return shapes
never drift. The rules (tiers, capacity, regions, deletes) are small public functions, used by
``plan_registry`` for one registry and by the layout planner for a whole layout.
"""

import re

from ansible_collections.dockyard.docr.plugins.module_utils._base import Plan, Write
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError, DocrError, DocrInputError

REGISTRY_HOST = "registry.digitalocean.com"
# A registry name, as DigitalOcean documents it: 1 to 63 characters of lowercase letters, digits and '-',
# beginning with a letter and ending with a letter or digit. The spec's pattern is looser (it lets a name
# begin with a digit or '-', or end with '-'); the API refuses what breaks the documented rule. This is the collection's one copy of the rule:
# the roles' templates and the simulator repeat this exact text, and a unit test holds them to it.
NAME_RULE = r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?\Z"
NAME_PATTERN = re.compile(NAME_RULE)
TIERS = ("starter", "basic", "professional")
# Registries an account may hold on each tier (the API allows several only on professional).
MAX_REGISTRIES = {"starter": 1, "basic": 1, "professional": 10}
# The regions the spec declares for a create (the enum of ``region`` in the body of POST /v2/registries; a unit test
# holds this twin to the spec subset). A create in one of them is sent without reading the options first (the API's
# refusal, when the region is not offered now, is explained by ``create_new_registry``); any other region is checked
# against the options' available regions before anything is sent, since the spec refuses such a request.
SPEC_REGIONS = ("nyc3", "sfo3", "sfo2", "ams3", "sgp1", "fra1", "blr1", "syd1")


def check_name(name, option="name"):
    """An error message for a malformed registry name, or None."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return (
            "%s %r is not a valid registry name: use 1 to 63 lowercase letters, digits and '-', beginning with "
            "a letter and ending with a letter or digit." % (option, name)
        )
    return None


def require_name(name, option="name"):
    """``name`` when it is a valid registry name; else ``DocrInputError`` naming ``option``."""
    problem = check_name(name, option)
    if problem:
        raise DocrInputError(problem)
    return name


# The one definition of the option that names the registry a module works on (docr_gc, docr_gc_info,
# docr_retention, docr_credentials); documented once, in the doc fragment dockyard.docr.registry.
REGISTRY_OPTION = dict(type="str", required=True, aliases=["name"])


def server_url(name):
    return "%s/%s" % (REGISTRY_HOST, name)


def normalize_registry(obj):
    if obj is None:
        return None
    return dict(
        name=obj.get("name"),
        region=obj.get("region"),
        created_at=obj.get("created_at"),
        storage_usage_bytes=obj.get("storage_usage_bytes"),
        storage_usage_bytes_updated_at=obj.get("storage_usage_bytes_updated_at"),
        server_url=server_url(obj.get("name")),
    )


# What a tier includes, as both the subscription and the options endpoint describe it.
TIER_FIELDS = ("included_repositories", "included_storage_bytes", "allow_storage_overage", "monthly_price_in_cents")


def _tier_terms(tier):
    return dict((field, tier.get(field)) for field in TIER_FIELDS)


def normalize_subscription(obj):
    if not obj:
        return None
    tier = obj.get("tier") or {}
    result = dict(tier=tier.get("slug"), tier_name=tier.get("name"), created_at=obj.get("created_at"), updated_at=obj.get("updated_at"))
    result.update(_tier_terms(tier))
    return result


def normalize_options(obj):
    obj = obj or {}
    tiers = []
    for tier in obj.get("subscription_tiers") or []:
        item = dict(slug=tier.get("slug"), name=tier.get("name"), eligible=tier.get("eligible"),
                    eligibility_reasons=tier.get("eligibility_reasons") or [])
        item.update(_tier_terms(tier))
        tiers.append(item)
    return dict(regions=list(obj.get("available_regions") or []), subscription_tiers=tiers)


def normalize_repository(obj, tags=None):
    latest = obj.get("latest_manifest") or {}
    result = dict(
        name=obj.get("name"),
        tag_count=obj.get("tag_count"),
        manifest_count=obj.get("manifest_count"),
        latest_manifest=dict(
            digest=latest.get("digest"),
            tags=list(latest.get("tags") or []),
            size_bytes=latest.get("size_bytes"),
            compressed_size_bytes=latest.get("compressed_size_bytes"),
            updated_at=latest.get("updated_at"),
        ) if latest else None,
    )
    if tags is not None:
        result["tags"] = [normalize_tag(tag) for tag in tags]
    return result


def normalize_tag(obj):
    return dict(
        tag=obj.get("tag"),
        manifest_digest=obj.get("manifest_digest"),
        size_bytes=obj.get("size_bytes"),
        compressed_size_bytes=obj.get("compressed_size_bytes"),
        updated_at=obj.get("updated_at"),
    )


# ---- calls ---------------------------------------------------------------------------------------

def get_registry(api, name):
    body = api.call("registries.get", name)
    return None if body is None else body.get("registry")


def list_registries(api):
    body = api.call("registries.list", missing_ok=False)
    registries = body.get("registries") if isinstance(body, dict) else None
    if not isinstance(registries, list):
        raise DocrApiError("The DigitalOcean API listed the registries without a 'registries' list; refusing to read "
                           "that as none.", status_code=None)
    return registries


def unless_registry_missing(api, registry, listing):
    """``listing()``, or None when it fails with a 404 because ``registry`` does not exist.

    A 404 on a list is never read as "empty": the registry itself is asked (its GET documents a 404). If it
    exists, the 404 is an error (a wrong api_url, a proxy, an API change) and is raised.
    """
    try:
        return listing()
    except DocrApiError as exc:
        if exc.status_code == 404 and get_registry(api, registry) is None:
            return None
        raise


def listed_subscription(registries):
    """The account's subscription as the registry list carries it (the spec puts it on every item), or None.

    None also when the list is empty: an account without registries may still hold a subscription, which
    only ``get_subscription`` reads then.
    """
    for registry in registries or []:
        if registry.get("subscription"):
            return registry["subscription"]
    return None


def get_subscription(api):
    body = api.call("registries.get_subscription")
    return (body or {}).get("subscription") or None


def get_options(api):
    body = api.call("registries.get_options", missing_ok=False)
    return (body or {}).get("options") or {}


def update_subscription(api, tier):
    body = api.call("registries.update_subscription", {"tier_slug": tier}, missing_ok=False)
    return (body or {}).get("subscription")


def name_available(api, name):
    """True when the name is free (the API answers 204), False when taken (409)."""
    try:
        api.call("registries.validate_name", {"name": name}, missing_ok=False)
    except DocrApiError as exc:
        if exc.status_code == 409:
            return False
        raise
    return True


def create_registry(api, name, region=None, tier=None):
    body = {"name": name}
    if region:
        body["region"] = region
    if tier:
        body["subscription_tier_slug"] = tier

    def recover():
        found = get_registry(api, name)
        return None if found is None else {"registry": found}

    try:
        created = api.call("registries.create", body, recover=recover, missing_ok=False)
    except DocrApiError as exc:
        # 409: the name is taken. When the taker is this account (a run converging the same registry at the
        # same time), the registry is there to use; otherwise the refusal stands.
        found = recover() if exc.status_code == 409 else None
        if found is None:
            raise
        created = found
    return (created or {}).get("registry")


def delete_registry(api, name):
    api.call("registries.delete", name)


def repository_count(api, name):
    """How many repositories a registry holds, in one call (``meta.total`` of a one-item page).

    Used to refuse deleting a registry that holds images: anything but a well-formed count (a 404 for a
    registry just read as existing, a body without ``meta.total`` or ``repositories``) is an error, never 0.
    """
    body = api.call("registries.list_repositories_v2", name, per_page=1, missing_ok=False)
    total = ((body or {}).get("meta") or {}).get("total") if isinstance(body, dict) else None
    repos = body.get("repositories") if isinstance(body, dict) else None
    if isinstance(total, int) and not isinstance(total, bool) and total >= 0 and isinstance(repos, list):
        return max(total, len(repos))
    raise DocrApiError(
        "Could not count the repositories of registry %r: the API answered without a repository count (meta.total). "
        "Not deleting a registry that may hold images." % name, status_code=None,
    )


def list_repositories(api, name):
    return api.paginate("registries.list_repositories_v2", "repositories", name)


def list_tags(api, registry, repository):
    return api.paginate("registries.list_repository_tags", "tags", registry, repository)


def create_new_registry(api, name, region=None, tier=None):
    """``create_registry`` for a planned create, with the API's refusals explained by the option they concern.

    A create that is the run's only write is validated by the API itself (no options or name reads first), so
    its refusals are read here, at the cost of a read only when the create was refused:

    - 409, the name taken by another account: an error naming ``name``;
    - 400 or 422 with ``region`` set, ``region`` not among the regions the options list: an error naming ``region``;
    - 422 to the sign-up ``tier`` of an account whose registry list was empty, because it still holds a subscription
      on another tier (deleting the last registry keeps it): the subscription moves to ``tier`` (an account without
      registries is eligible for every tier), then the registry is created without it.
    """
    try:
        return create_registry(api, name, region, tier)
    except DocrApiError as exc:
        if exc.status_code == 409:
            raise DocrInputError("%s %s" % (name_taken_problem(name), exc.msg), **exc.details)
        if exc.status_code not in (400, 422):
            raise
        if region is not None:
            problem = region_problem(region, normalize_options(get_options(api))["regions"])
            if problem:
                raise DocrInputError("%s %s" % (problem, exc.msg), **exc.details)
        if tier is None:
            raise
        held = tier_of(get_subscription(api))
        if held is None or held == tier:
            raise
    update_subscription(api, tier)
    try:
        return create_registry(api, name, region)
    except DocrError as exc:
        exc.details["changed"] = True  # the subscription moved
        raise


# ---- the rules, each written once ---------------------------------------------------------------------------

def tier_of(subscription):
    """The tier slug of a subscription as the API answers it (``{"tier": {"slug": ...}}``), or None."""
    return ((subscription or {}).get("tier") or {}).get("slug")


def is_downgrade(current, wanted):
    """True when moving from tier ``current`` to ``wanted`` goes down (``None`` is no tier: never a downgrade)."""
    return current in TIERS and wanted in TIERS and TIERS.index(wanted) < TIERS.index(current)


def tier_problems(tier, registry_count, option="subscription_tier"):
    """Why an account holding ``registry_count`` registries cannot be on ``tier``: a list of messages naming ``option``.

    The tier is account-wide: one registry on starter and basic, up to 10 on professional.
    """
    if tier not in TIERS:
        return ["%s=%s is not a subscription tier; choose one of: %s." % (option, tier, ", ".join(TIERS))]
    allowed = MAX_REGISTRIES[tier]
    if registry_count <= allowed:
        return []
    if tier != "professional":
        return ["%s=%s allows one registry, not %d; only professional allows several (up to %d)."
                % (option, tier, registry_count, MAX_REGISTRIES["professional"])]
    return ["%s=%s allows at most %d registries, not %d." % (option, tier, allowed, registry_count)]


def capacity_problems(name, existing, tier, option="subscription_tier"):
    """Why registry ``name`` cannot be added to the account's ``existing`` registry names on ``tier``."""
    existing = list(existing)
    if tier not in TIERS or len(existing) < MAX_REGISTRIES[tier]:
        return []
    if tier != "professional":
        return ["Cannot create registry %r: the account already has a registry (%s) and the %s tier allows one. "
                "Set %s=professional to hold up to %d."
                % (name, ", ".join(existing), tier, option, MAX_REGISTRIES["professional"])]
    return ["Cannot create registry %r: the account already has %d registries, the most the professional tier allows."
            % (name, len(existing))]


def downgrade_problems(current, wanted, options, option="subscription_tier"):
    """Why the account cannot move down from ``current`` to ``wanted``, by the eligibility the options report.

    ``options`` is the API's answer (``get_options``). A tier the options do not list is refused (fail closed).
    """
    for tier in (options or {}).get("subscription_tiers") or []:
        if tier.get("slug") == wanted:
            if tier.get("eligible") is False:
                return ["%s=%s: the account is not eligible to move from %s to %s (%s)." % (
                    option, wanted, current, wanted, ", ".join(tier.get("eligibility_reasons") or ["no reason given"]))]
            return []
    return ["%s=%s: the API's options list no such tier, so the move from %s cannot be checked." % (option, wanted, current)]


def region_problem(region, regions, option="region"):
    """Why ``region`` is not one DOCR offers (``regions``: the options' ``available_regions``), or None.

    No verdict when the list is empty (the API then decides on the create).
    """
    regions = list(regions or [])
    if region is None or not regions or region in regions:
        return None
    return "%s=%s is not a region DOCR offers; choose one of: %s." % (option, region, ", ".join(regions))


def moved_region_problem(name, wanted, actual, option="region"):
    """Why registry ``name`` in ``actual`` cannot be made to be in ``wanted`` (a registry cannot move), or None."""
    if wanted is None or wanted == actual:
        return None
    return ("%s=%s does not match registry %r, which is in %s. A registry cannot move between regions: set %s to %s, "
            "or create a registry with another name there." % (option, wanted, name, actual, option, actual))


def delete_problem(name, repositories, force, option="force"):
    """Why registry ``name`` holding ``repositories`` (a count, None when not counted) is not deleted, or None."""
    if force:
        return None
    if repositories is None:
        return ("Registry %r was not counted for repositories; not deleting a registry that may hold images. Set %s=true "
                "to delete it anyway." % (name, option))
    if repositories:
        return ("Registry %r still holds %d repositor%s; deleting it deletes every image in it. Set %s=true to delete "
                "it anyway." % (name, repositories, "y" if repositories == 1 else "ies", option))
    return None


def no_subscription_problem(option="subscription_tier"):
    return ("The account has no container registry subscription yet: set %s (%s) to create its first registry."
            % (option, ", ".join(TIERS[:-1]) + " or " + TIERS[-1]))


def name_taken_problem(name, option="name"):
    return "%s %r is already taken: registry names are unique across all of DigitalOcean." % (option, name)


def raise_problems(problems, **details):
    """Raise one ``DocrInputError`` telling every problem, or nothing when there is none."""
    problems = [problem for problem in problems if problem]
    if problems:
        raise DocrInputError(" ".join(problems), **details)


# ---- the planner ------------------------------------------------------------------------------------------------

def find_registry(registries, name):
    return next((registry for registry in registries or [] if registry.get("name") == name), None)


def registry_state(registry, tier, with_tier):
    """The state ``docr_registry`` compares and shows in its diff: name, region, and the tier when it was asked for."""
    if registry is None:
        return None
    state = dict(name=registry.get("name"), region=registry.get("region"))
    if with_tier:
        state["subscription_tier"] = tier
    return state


def predicted_subscription(subscription, tier, options):
    """The subscription on ``tier``, with that tier's terms when the options were read (else only its slug)."""
    terms = None
    for item in (options or {}).get("subscription_tiers") or []:
        if item.get("slug") == tier:
            terms = item
    return dict(subscription or {}, tier=dict(terms or {"slug": tier}))


class _Facts(object):
    """What the planner and ``registry_reads`` both derive from ``current`` and the parameters."""

    def __init__(self, current, params):
        self.name = params["name"]
        self.absent = params.get("state", "present") == "absent"
        self.region = params.get("region")
        self.tier = params.get("subscription_tier")
        self.force = bool(params.get("force"))
        self.registries = list(current["registries"])
        self.registry = find_registry(self.registries, self.name)
        self.subscription_known = "subscription" in current
        self.subscription = current.get("subscription")
        self.held = tier_of(self.subscription)
        create = not self.absent and self.registry is None
        # The account's first registry while its subscription is unknown (an empty list carries none), or known to
        # be none: the create carries the tier (create_new_registry deals with a subscription left from earlier
        # registries).
        unknown = not self.registries and not self.subscription_known
        none = self.subscription_known and self.held is None
        self.sign_up = create and self.tier is not None and (unknown or none)
        self.create = create
        self.tier_write = (not self.absent and not self.sign_up and self.tier is not None and self.subscription_known
                           and self.tier != self.held)
        self.downgrade = self.tier_write and is_downgrade(self.held, self.tier)


def registry_reads(current, params, check_mode=False):
    """What ``plan_registry`` needs read beyond the registry list, given what ``current`` already holds.

    Pure: ``read_registry`` asks it after each read until it answers ``[]``. Names:

    - ``subscription``: when the list did not carry it and it matters;
    - ``repositories``: the count, before a delete without force;
    - ``options``: a downgrade's eligibility; the region of a create that is not the run's only write, or that the
      spec does not list; check mode's predictions;
    - ``name_available``: a create that is not the run's only write, and check mode.

    A create that is the run's only write is validated by the API itself (see ``create_new_registry``): nothing is
    read before it but the list.
    """
    facts = _Facts(current, params)
    wanted = []
    if facts.absent:
        if facts.registry is not None and not facts.force:
            wanted.append("repositories")
    elif not facts.subscription_known and not facts.sign_up and (facts.create or facts.tier is not None):
        wanted.append("subscription")
    else:
        validate_first = check_mode or facts.tier_write
        if facts.downgrade or check_mode and facts.tier_write:
            wanted.append("options")
        if facts.create and validate_first:
            wanted.append("name_available")
        if facts.create and facts.region is not None and (validate_first or facts.region not in SPEC_REGIONS):
            wanted.append("options")
    return [what for index, what in enumerate(wanted) if what not in current and what not in wanted[:index]]


def read_registry(api, params, check_mode=False):
    """``current`` for ``plan_registry``: the registry list (it carries the subscription), then only what
    ``registry_reads`` says the plan still needs, each read once."""
    listed = list_registries(api)
    current = dict(registries=listed)
    subscription = listed_subscription(listed)
    if subscription is not None:
        current["subscription"] = subscription
    readers = dict(
        subscription=lambda: get_subscription(api),
        options=lambda: get_options(api),
        repositories=lambda: repository_count(api, params["name"]),
        name_available=lambda: name_available(api, params["name"]),
    )
    wanted = registry_reads(current, params, check_mode)
    while wanted:
        for what in wanted:
            current[what] = readers[what]()
        wanted = registry_reads(current, params, check_mode)
    return current


def plan_registry(current, params):
    """The plan for one registry (``docr_registry``), without any API call; raises ``DocrInputError`` on a problem.

    ``current``: ``registries`` (the account's registry list, as the API answers it), and what ``registry_reads``
    asked for: ``subscription`` (None: none), ``options``, ``repositories`` (a count), ``name_available``.
    ``params``: ``name``, ``state``, ``region``, ``subscription_tier``, ``force``.

    The plan's ``result`` holds ``registry`` and ``subscription`` (normalised; the subscription only when
    ``subscription_tier`` is set or a registry is created), refined by ``settle_registry`` from the writes' answers.
    """
    facts = _Facts(current, params)
    unread = registry_reads(current, params)
    if unread:
        raise DocrError("Internal error: registry %r planned without reading %s." % (facts.name, ", ".join(unread)))
    with_tier = facts.tier is not None
    before = registry_state(facts.registry, facts.held, with_tier)
    subscription = facts.subscription if with_tier else None

    if facts.absent:
        if facts.registry is None:
            return Plan(None, None, result=_result(None, subscription))
        count = current.get("repositories")
        problem = delete_problem(facts.name, count, facts.force)
        if problem:
            raise_problems([problem], **({"repositories": count} if count else {}))
        return Plan(before, None, [Write("delete registry %s" % facts.name, delete_registry, facts.name)],
                    result=_result(None, subscription))

    problems = []
    writes = []
    options = current.get("options")
    if facts.registry is not None:
        problems.append(moved_region_problem(facts.name, facts.region, facts.registry.get("region")))
        if facts.tier_write:
            problems.extend(tier_problems(facts.tier, len(facts.registries)))
        registry = facts.registry
    else:
        effective = facts.tier or facts.held
        if effective is None:
            problems.append(no_subscription_problem())
        problems.extend(capacity_problems(facts.name, [r.get("name") for r in facts.registries], effective))
        if "options" in current:
            problems.append(region_problem(facts.region, normalize_options(options)["regions"]))
        if current.get("name_available") is False:
            problems.append(name_taken_problem(facts.name))
        registry = dict(name=facts.name, region=facts.region, created_at=None, storage_usage_bytes=0,
                        storage_usage_bytes_updated_at=None)
    if facts.downgrade:
        problems.extend(downgrade_problems(facts.held, facts.tier, options))
    if facts.tier_write:
        writes.append(Write("move the subscription to %s" % facts.tier, update_subscription, facts.tier))
        subscription = predicted_subscription(facts.subscription, facts.tier, options)
    if facts.create:
        writes.append(Write("create registry %s" % facts.name, create_new_registry, facts.name, facts.region,
                            facts.tier if facts.sign_up else None))
        if facts.sign_up:
            # The create's answer does not carry the subscription: only its tier is known after it, so check mode
            # predicts no more than that either.
            subscription = predicted_subscription(None, facts.tier, None)
        elif subscription is None:
            subscription = facts.subscription
    raise_problems(problems)
    after = registry_state(registry, facts.tier or facts.held, with_tier)
    return Plan(before, after, writes, result=_result(registry, subscription))


def settle_registry(plan, answers, params):
    """The after-state of ``plan`` from its writes' answers; updates ``plan.result`` (the registry, the subscription)."""
    after = plan.after
    for write, answer in zip(plan.writes, answers):
        if write.call is update_subscription and answer:
            plan.result["subscription"] = normalize_subscription(answer)
        elif write.call is create_new_registry and answer:
            problem = moved_region_problem(params["name"], params.get("region"), answer.get("region"))
            if problem:
                # Created a moment ago by someone else, in another region: the registry is not what was asked for.
                raise DocrInputError(problem)
            plan.result["registry"] = normalize_registry(answer)
            after = dict(after, region=answer.get("region"))
    return after


def _result(registry, subscription):
    return dict(registry=normalize_registry(registry), subscription=normalize_subscription(subscription))
