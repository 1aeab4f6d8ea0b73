# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: the registry layout planner (``docr_layout_plan``, role ``registry_layout``).

Everything here is pure but ``read_account``: ``check_shape`` reads the layout as the user wrote it,
``needs`` says which extra reads the plan needs (options, subscription, repository counts), ``problems``
validates the whole layout with the services' own rules (every problem at once, each naming the variable,
such as ``docr_layout.registries[2].region``), and ``plan`` says what differs.
"""

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.dockyard.docr.plugins.module_utils import _doks
from ansible_collections.dockyard.docr.plugins.module_utils import _registry
from ansible_collections.dockyard.docr.plugins.module_utils import _schedule

VARIABLE = "docr_layout"
LAYOUT_KEYS = ("subscription_tier", "require_colocation", "schedule_gc", "registries")
ENTRY_KEYS = ("name", "region", "state", "force", "clusters", "allow_cross_region", "gc")


def where(index, key=None):
    """``docr_layout.registries[2].region``: how a message names what it is about."""
    text = "%s.registries[%d]" % (VARIABLE, index)
    return text if key is None else "%s.%s" % (text, key)


# ---- the layout as written -----------------------------------------------------------------------

def _bool(value, option, problems, default):
    if value is None:
        return default
    try:
        return boolean(value, strict=True)
    except TypeError:
        problems.append("%s must be a boolean, got %r." % (option, value))
        return default


def _unknown(values, allowed, option):
    extra = sorted(str(key) for key in values if key not in allowed)
    if not extra:
        return []
    return ["%s: unknown key%s %s (allowed: %s)." % (option, "s" if len(extra) > 1 else "", ", ".join(extra), ", ".join(allowed))]


def check_shape(raw):
    """The layout with its defaults, and every problem of shape (types, required keys, unknown keys).

    Returns ``(layout, problems)``. These problems need no API call to find, and the plan cannot be made
    without fixing them, so the module fails on them before reading the account.
    """
    problems = []
    if not isinstance(raw, dict):
        return None, ["%s must be a dictionary with the keys %s." % (VARIABLE, ", ".join(LAYOUT_KEYS))]
    problems.extend(_unknown(raw, LAYOUT_KEYS, VARIABLE))
    tier = raw.get("subscription_tier")
    if tier is not None and tier not in _registry.TIERS:
        problems.append("%s.subscription_tier must be one of %s, got %r." % (VARIABLE, ", ".join(_registry.TIERS), tier))
        tier = None
    layout = dict(
        subscription_tier=tier,
        require_colocation=_bool(raw.get("require_colocation"), VARIABLE + ".require_colocation", problems, True),
        schedule_gc=_bool(raw.get("schedule_gc"), VARIABLE + ".schedule_gc", problems, False),
        registries=[],
    )
    entries = raw.get("registries")
    if not isinstance(entries, list):
        problems.append("%s.registries must be a list of registries (name, region, clusters...), got %s."
                        % (VARIABLE, "nothing" if entries is None else type(entries).__name__))
        return layout, problems
    for index, item in enumerate(entries):
        if not isinstance(item, dict):
            problems.append("%s must be a dictionary (name, region, clusters...), got %r." % (where(index), item))
            continue
        problems.extend(_unknown(item, ENTRY_KEYS, where(index)))
        name = item.get("name")
        if name is None:
            problems.append("%s is required (the registry's name)." % where(index, "name"))
        elif not isinstance(name, str):
            problems.append("%s must be a registry name (a string), got %r." % (where(index, "name"), name))
        state = item.get("state") or "present"
        if state not in ("present", "absent"):
            problems.append("%s must be present or absent, got %r." % (where(index, "state"), state))
        region = item.get("region")
        if region is None and state == "present":
            problems.append("%s is required (a region slug such as nyc3)." % where(index, "region"))
        elif region is not None and not isinstance(region, str):
            problems.append("%s must be a region slug (a string), got %r." % (where(index, "region"), region))
        clusters = item.get("clusters")
        if clusters is None:
            clusters = []
        if not isinstance(clusters, list) or not all(isinstance(c, str) and c for c in clusters):
            problems.append("%s must be a list of cluster names or UUIDs, got %r." % (where(index, "clusters"), clusters))
            clusters = []
        gc = item.get("gc")
        if gc is not None and not isinstance(gc, dict):
            problems.append("%s must be a dictionary of GC settings, got %r." % (where(index, "gc"), gc))
            gc = None
        layout["registries"].append(dict(
            index=index,
            name=item.get("name"),
            region=region,
            state=state,
            force=_bool(item.get("force"), where(index, "force"), problems, False),
            clusters=clusters,
            allow_cross_region=_bool(item.get("allow_cross_region"), where(index, "allow_cross_region"), problems, False),
            gc=gc or None,
        ))
    return layout, problems


# ---- what to read --------------------------------------------------------------------------------

def current_tier(registries):
    """The account's tier slug as the registry list carries it (None when the list is empty)."""
    return (_registry.normalize_subscription(_registry.listed_subscription(registries)) or {}).get("tier")


def _present(layout):
    return [e for e in layout["registries"] if e["state"] == "present" and isinstance(e["name"], str)]


def needs(layout, registries, check_mode=False):
    """The reads beyond the registry and cluster lists that this layout needs, given the registry list.

    ``{"options": bool, "subscription": bool, "count": [names]}``: the options (regions DOCR offers, tier
    eligibility) only when a registry is to be created or the tier goes down; the subscription alone only
    when the account has no registry (the list carries it otherwise) and the layout creates one without
    naming a tier; the repository count only of registries marked absent without ``force``.

    One exception, the rule ``docr_registry`` follows for a create (``_registry.registry_reads``): a layout
    that creates a single registry, in a region the API's spec lists, has the API validate that region. The
    create is then the converge's first write (the role creates before anything else), so a refusal still
    leaves nothing written, and ``docr_registry`` reads the options after it to name the region. Check mode,
    where the plan is the whole answer, still reads them.
    """
    existing = set(r.get("name") for r in registries)
    creates = [e for e in _present(layout) if e["name"] not in existing]
    tier = layout["subscription_tier"]
    current = current_tier(registries)
    downgrade = _registry.is_downgrade(current, tier)
    count = []
    for entry in layout["registries"]:
        if entry["state"] == "absent" and entry["name"] in existing and not entry["force"] and entry["name"] not in count:
            count.append(entry["name"])
    return dict(
        options=downgrade or len(creates) > 1 or check_mode and bool(creates)
        or any(e["region"] not in _registry.SPEC_REGIONS for e in creates),
        subscription=bool(creates) and not registries and tier is None,
        count=count,
    )


# ---- the rules -----------------------------------------------------------------------------------
# Every rule is the service's own; this is the one place the layout calls them.

def _name_problems(layout):
    problems = []
    seen = {}
    for entry in layout["registries"]:
        problem = _registry.check_name(entry["name"], where(entry["index"], "name"))
        if problem:
            problems.append(problem)
        elif entry["name"] in seen:
            problems.append("%s: registry %r appears more than once in %s.registries (also %s)."
                            % (where(entry["index"], "name"), entry["name"], VARIABLE, where(seen[entry["name"]])))
        else:
            seen[entry["name"]] = entry["index"]
    return problems


def _items(layout, regions_ok):
    """The layout's present registries as ``_doks.integration_item`` s, naming the layout's variables.

    A registry whose region is already a problem (it would move, or DOCR does not offer it) is not also checked
    for co-location: its region is wrong, not its clusters.
    """
    return [_doks.integration_item([e["name"]], e["clusters"], e["allow_cross_region"] or not regions_ok[e["index"]],
                                   where(e["index"]), where(e["index"], "clusters"), where(e["index"], "name"))
            for e in _present(layout)]


def _region_problem(entry, existing, offered):
    """``_registry``'s region rules for one entry: a registry cannot move; a create needs a region DOCR offers."""
    option = where(entry["index"], "region")
    if entry["name"] in existing:
        return _registry.moved_region_problem(entry["name"], entry["region"], existing[entry["name"]], option)
    return _registry.region_problem(entry["region"], offered, option)


def problems(layout, account):
    """Every problem of the layout against the account, as messages naming the variable. Pure.

    ``account``: ``registries`` (the list as the API gives it), ``clusters`` (normalised), ``options``
    (normalised, or None when not read), ``subscription_tier`` (when read on its own), ``repositories``
    (``{name: count}`` of the registries marked absent without force).

    Returns ``(problems, cross)``: ``cross`` are the cross-region pairs accepted with ``require_colocation: false``.
    """
    found = _name_problems(layout)
    existing = _doks.registry_regions(account["registries"])
    offered = (account.get("options") or {}).get("regions")
    current = current_tier(account["registries"]) or account.get("subscription_tier")
    regions = dict(existing)
    regions_ok = {}
    for entry in _present(layout):
        problem = _region_problem(entry, existing, offered)
        regions_ok[entry["index"]] = problem is None
        if problem:
            found.append(problem)
        regions.setdefault(entry["name"], entry["region"])
    # clusters (unknown, ambiguous) and co-location, by the integration's own rules; require_colocation is
    # applied below, so that each pair is reported by the layout entry that asks for it
    review = _doks.review_integration(account["clusters"], regions, _items(layout, regions_ok), require_colocation=False)
    found.extend(review.problems)
    first = {}
    for entry in _present(layout):
        first.setdefault(entry["name"], entry["index"])
    cross = []
    for pair in review.cross_region:
        text = "cluster %s (%s) and registry %s (%s) are in different regions" % (
            pair["cluster"], pair["cluster_region"], pair["registry"], pair["registry_region"])
        index = first[pair["registry"]]
        if layout["require_colocation"]:
            found.append("%s: %s; set %s: true to accept it (cross-region pulls are slower and billed)."
                         % (where(index, "clusters"), text, where(index, "allow_cross_region")))
        else:
            cross.append(text)
    found.extend(_count_problems(layout, existing, current))
    counts = account.get("repositories") or {}
    for entry in layout["registries"]:
        if entry["state"] == "absent" and entry["name"] in existing:
            problem = _registry.delete_problem(entry["name"], counts.get(entry["name"]), entry["force"],
                                               where(entry["index"], "force"))
            if problem:
                found.append("%s: %s" % (where(entry["index"], "state"), problem))
    tier = layout["subscription_tier"]
    if _registry.is_downgrade(current, tier):
        found.extend(_registry.downgrade_problems(current, tier, account.get("options"), VARIABLE + ".subscription_tier"))
    if layout["schedule_gc"]:
        found.extend(gc_problems(layout))
    return found, cross


def _count_problems(layout, existing, current):
    """The tier and count rules (``_registry.tier_problems``, ``no_subscription_problem``) for the account after
    the layout: its present registries and the account's others."""
    present = set(e["name"] for e in _present(layout))
    named = set(e["name"] for e in layout["registries"])
    kept = [name for name in existing if name not in named]
    total = len(present) + len(kept)
    effective = layout["subscription_tier"] or current
    option = VARIABLE + ".subscription_tier"
    if effective is None:
        creates = [name for name in present if name not in existing]
        return [_registry.no_subscription_problem(option)] if creates else []
    return ["%s.registries: the account would hold %d registries (%d in the layout, %d others): %s"
            % (VARIABLE, total, len(present), len(kept), problem) for problem in _registry.tier_problems(effective, total, option)]


def gc_settings(layout):
    """What the gc_schedule role gets as ``gc_schedule_registries``: each present registry's ``gc`` with its name."""
    return [dict(e["gc"], name=e["name"]) for e in _present(layout) if e["gc"]]


def gc_problems(layout):
    """The ``gc:`` settings checked with the gc_schedule role's own rules (``_schedule.registry_problems``)."""
    found = []
    for entry in _present(layout):
        if entry["gc"]:
            for message in _schedule.registry_problems([dict(entry["gc"], name=entry["name"])]):
                found.append("%s: %s" % (where(entry["index"], "gc"), message))
    return found


# ---- the plan ------------------------------------------------------------------------------------

def _cluster_key(cluster, clusters):
    same = [c for c in clusters if c["name"] == cluster["name"]]
    return cluster["name"] if len(same) == 1 else "%s (%s)" % (cluster["name"], cluster["id"])


def view(registries, clusters, tier):
    """The account as the layout sees it: the diff's before and after."""
    return dict(
        subscription_tier=tier,
        registries=dict((r["name"], r["region"]) for r in registries),
        clusters=dict((_cluster_key(c, clusters), sorted(c["registries"])) for c in clusters),
    )


def plan(layout, account):
    """What differs between the layout and the account (validated: call ``problems`` first). Pure.

    Returns a dict:

    - ``registries``: the ``docr_registry`` calls before the deletes (``name``, ``region``,
      ``subscription_tier``): each registry to create, carrying the layout's tier, or, when only the tier
      goes up, one call on a registry the layout keeps;
    - ``tier_after_deletes``: the ``docr_registry`` call that moves the tier down, after the deletes (or None);
    - ``integrations``: the ``docr_doks_integration`` items (``registry``, ``clusters`` by UUID: only those
      missing it, ``allow_cross_region``);
    - ``integration_writes``: the writes they cost, one per distinct registry set (``clusters``, ``registries``);
    - ``removals``: per registry marked absent, the clusters (UUIDs) that pull from it;
    - ``deletes``: the registries to delete (``name``, ``force``);
    - ``gc``: the ``gc_schedule_registries`` of the layout;
    - ``present``: the names of the layout's present registries;
    - ``before`` and ``after``: the account as the layout sees it (``view``), now and after a converge.
    """
    registries = [dict(name=r.get("name"), region=r.get("region")) for r in account["registries"]]
    existing = dict((r["name"], r["region"]) for r in registries)
    clusters = account["clusters"]
    tier = layout["subscription_tier"]
    current = current_tier(account["registries"]) or account.get("subscription_tier")
    present = _present(layout)

    calls = [dict(name=e["name"], region=e["region"], subscription_tier=tier) for e in present if e["name"] not in existing]
    tier_after = None
    tier_changes = bool(tier and current and tier != current)
    if tier_changes and not calls:
        absent = set(e["name"] for e in layout["registries"] if e["state"] == "absent")
        keeper = next((e for e in present if e["name"] in existing), None)
        if keeper is None:
            keeper = next((dict(name=n, region=r) for n, r in sorted(existing.items()) if n not in absent), None)
        if keeper is not None:
            call = dict(name=keeper["name"], region=existing[keeper["name"]], subscription_tier=tier)
            if _registry.is_downgrade(current, tier):
                tier_after = call
            else:
                calls.append(call)

    wanted = {}
    integrations = []
    for entry in present:
        resolved = _doks.resolve_clusters(clusters, entry["clusters"], where(entry["index"], "clusters"))
        missing = []
        for ref in entry["clusters"]:
            cluster = resolved[ref]
            if entry["name"] not in cluster["registries"] and cluster["id"] not in missing:
                missing.append(cluster["id"])
                wanted.setdefault(cluster["id"], set()).add(entry["name"])
        if missing:
            integrations.append(dict(registry=entry["name"], clusters=missing, allow_cross_region=entry["allow_cross_region"]))

    removals = []
    deletes = []
    gone = set()
    for entry in layout["registries"]:
        if entry["state"] != "absent" or entry["name"] not in existing or entry["name"] in gone:
            continue
        gone.add(entry["name"])
        holders = [c["id"] for c in clusters if entry["name"] in c["registries"]]
        if holders:
            removals.append(dict(registry=entry["name"], clusters=holders))
        deletes.append(dict(name=entry["name"], force=entry["force"]))

    created = [dict(name=c["name"], region=c["region"]) for c in calls if c["name"] not in existing]
    after_registries = [r for r in registries if r["name"] not in gone] + created
    after_clusters = []
    for cluster in clusters:
        names = (set(cluster["registries"]) | wanted.get(cluster["id"], set())) - gone
        after_clusters.append(dict(cluster, registries=sorted(names)))
    after_tier = tier if tier and (calls or tier_after) else current
    return dict(
        registries=calls,
        tier_after_deletes=tier_after,
        integrations=integrations,
        integration_writes=[dict(clusters=ids, registries=names) for ids, names in _doks.group_writes(wanted)],
        removals=removals,
        deletes=deletes,
        gc=gc_settings(layout),
        present=[e["name"] for e in present],
        before=view(registries, clusters, current),
        after=view(after_registries, after_clusters, after_tier),
    )
