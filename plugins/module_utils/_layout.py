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
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrInputError

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


def needs(layout, registries):
    """The reads beyond the registry and cluster lists that this layout needs, given the registry list.

    ``{"options": bool, "subscription": bool, "count": [names]}``: the options (regions DOCR offers, tier
    eligibility) only when a registry is to be created or the tier goes down; the subscription alone only
    when the account has no registry (the list carries it otherwise) and the layout creates one without
    naming a tier; the repository count only of registries marked absent without ``force``.
    """
    existing = set(r.get("name") for r in registries)
    creates = [e for e in _present(layout) if e["name"] not in existing]
    tier = layout["subscription_tier"]
    current = current_tier(registries)
    downgrade = bool(tier and current and _registry.TIERS.index(tier) < _registry.TIERS.index(current))
    count = []
    for entry in layout["registries"]:
        if entry["state"] == "absent" and entry["name"] in existing and not entry["force"] and entry["name"] not in count:
            count.append(entry["name"])
    return dict(
        options=bool(creates) or downgrade,
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


def _resolve(clusters, entry):
    """``({ref: cluster}, problem or None)`` for the entry's clusters (``_doks.resolve_clusters``)."""
    try:
        return _doks.resolve_clusters(clusters, entry["clusters"], where(entry["index"], "clusters")), None
    except DocrInputError as exc:
        found = {}
        for ref in entry["clusters"]:
            try:
                found.update(_doks.resolve_clusters(clusters, [ref]))
            except DocrInputError:
                pass
        return found, exc.msg


def problems(layout, account):
    """Every problem of the layout against the account, as messages naming the variable. Pure.

    ``account``: ``registries`` (the list as the API gives it), ``clusters`` (normalised), ``options``
    (normalised, or None when not read), ``subscription_tier`` (when read on its own), ``repositories``
    (``{name: count}`` of the registries marked absent without force).
    """
    found = _name_problems(layout)
    existing = dict((r.get("name"), r.get("region")) for r in account["registries"])
    offered = (account.get("options") or {}).get("regions") or []
    tier = layout["subscription_tier"]
    current = current_tier(account["registries"]) or account.get("subscription_tier")
    cross = []
    for entry in _present(layout):
        name, region = entry["name"], entry["region"]
        region_ok = True
        if name in existing and existing[name] != region:
            found.append("%s: registry %s is in %s, not %s; a registry cannot move between regions (create one with "
                         "another name there)." % (where(entry["index"], "region"), name, existing[name], region))
            region_ok = False
        elif name not in existing and offered and region not in offered:
            found.append("%s: %s is not a region DOCR offers; choose one of: %s."
                         % (where(entry["index"], "region"), region, ", ".join(offered)))
            region_ok = False
        resolved, problem = _resolve(account["clusters"], entry)
        if problem:
            found.append(problem)
        if not region_ok or entry["allow_cross_region"]:
            continue
        pairs = [(resolved[ref], name) for ref in entry["clusters"] if ref in resolved]
        for cluster, _name, _region in _doks.cross_region_pairs(pairs, {name: region}):
            text = "cluster %s (%s) and registry %s (%s) are in different regions" % (cluster["name"], cluster["region"], name, region)
            if layout["require_colocation"]:
                found.append("%s: %s; set %s: true to accept it (cross-region pulls are slower and billed)."
                             % (where(entry["index"], "clusters"), text, where(entry["index"], "allow_cross_region")))
            else:
                cross.append(text)
    found.extend(_count_problems(layout, existing, tier, current))
    for entry in layout["registries"]:
        count = (account.get("repositories") or {}).get(entry["name"])
        if entry["state"] == "absent" and entry["name"] in existing and not entry["force"] and count:
            found.append("%s: registry %s still holds %d repositor%s; deleting it deletes every image in it. Set %s: "
                         "true to delete it anyway." % (where(entry["index"], "state"), entry["name"], count,
                                                        "y" if count == 1 else "ies", where(entry["index"], "force")))
    found.extend(_tier_problems(layout, account, current))
    if layout["schedule_gc"]:
        found.extend(gc_problems(layout))
    return found, cross


def _count_problems(layout, existing, tier, current):
    present = set(e["name"] for e in _present(layout))
    named = set(e["name"] for e in layout["registries"])
    kept = [name for name in existing if name not in named]
    total = len(present) + len(kept)
    effective = tier or current
    most = _registry.MAX_REGISTRIES["professional"]
    if total > most:
        return ["%s.registries: the account would hold %d registries (%d in the layout, %d others); DigitalOcean allows "
                "at most %d." % (VARIABLE, total, len(present), len(kept), most)]
    creates = [name for name in present if name not in existing]
    if creates and effective is None:
        return ["%s.subscription_tier: the account has no container registry subscription yet; set it (%s) to create "
                "its first registry." % (VARIABLE, ", ".join(_registry.TIERS))]
    if effective is not None and total > _registry.MAX_REGISTRIES[effective]:
        return ["%s.subscription_tier: the account would hold %d registries; more than one needs %s.subscription_tier: "
                "professional (it is %s)." % (VARIABLE, total, VARIABLE, effective)]
    return []


def _tier_problems(layout, account, current):
    """A tier the account cannot move down to (the options say it is not eligible)."""
    tier = layout["subscription_tier"]
    if not (tier and current) or _registry.TIERS.index(tier) >= _registry.TIERS.index(current):
        return []
    for offer in (account.get("options") or {}).get("subscription_tiers") or []:
        if offer.get("slug") == tier and offer.get("eligible") is False:
            return ["%s.subscription_tier: the account is not eligible to move from %s to %s (%s)." % (
                VARIABLE, current, tier, ", ".join(offer.get("eligibility_reasons") or ["no reason given"]))]
    return []


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
            if _registry.TIERS.index(tier) < _registry.TIERS.index(current):
                tier_after = call
            else:
                calls.append(call)

    wanted = {}
    integrations = []
    for entry in present:
        resolved, _problem = _resolve(clusters, entry)
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
