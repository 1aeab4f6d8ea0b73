# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: DOKS clusters and their container registry integration.

The normaliser is shared by ``docr_doks_integration`` and ``docr_doks_integration_info`` so their
return shapes never drift. The planning functions are pure (no API calls): ``wanted_from_options``
checks the options before any call, ``review_integration`` / ``plan_integration`` decide everything
else (cluster references, registries, co-location, the single-registry signals, the grouped writes)
from what the two reads returned, before anything is written.
"""

from ansible_collections.dockyard.docr.plugins.module_utils import _registry
from ansible_collections.dockyard.docr.plugins.module_utils._base import Plan, Write
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError, DocrInputError


def normalize_cluster(obj):
    """The integration view of one cluster: id, name, region, registry_enabled, registries (sorted)."""
    if obj is None:
        return None
    return dict(
        id=obj.get("id"),
        name=obj.get("name"),
        region=obj.get("region"),
        registry_enabled=bool(obj.get("registry_enabled")),
        registries=sorted(obj.get("registries") or []),
    )


# ---- calls ---------------------------------------------------------------------------------------

def list_clusters(api):
    """Every DOKS cluster of the account (all pages), normalised."""
    clusters = api.paginate("kubernetes.list_clusters", "kubernetes_clusters") or []
    return [normalize_cluster(c) for c in clusters]


def add_registries(api, cluster_ids, registries):
    """Integrate ``registries`` with every cluster of ``cluster_ids`` (one call; adding is a set union)."""
    api.call("kubernetes.add_registries", {"cluster_uuids": list(cluster_ids), "registries": list(registries)}, missing_ok=False)


def remove_registries(api, cluster_ids, registries):
    api.call("kubernetes.remove_registries", {"cluster_uuids": list(cluster_ids), "registries": list(registries)}, missing_ok=False)


def change_registries(api, add, cluster_ids, registries):
    """``add_registries`` or ``remove_registries``; a failure says which registries and clusters it was about."""
    try:
        (add_registries if add else remove_registries)(api, cluster_ids, registries)
    except DocrError as exc:
        exc.msg = "%s (while %s registries %s %s clusters %s)" % (
            exc.msg, "adding" if add else "removing", ", ".join(registries), "to" if add else "from", ", ".join(cluster_ids))
        raise


# The legacy single-registry integration (POST/DELETE /v2/kubernetes/registry) integrates "the" registry
# of a one-registry account. It is what the console's 1-click button and `doctl kubernetes cluster
# registry add` use, and the only form for accounts that never moved to several registries.
def add_legacy_registry(api, cluster_ids):
    api.call("kubernetes.add_registry", {"cluster_uuids": list(cluster_ids)}, missing_ok=False)


def remove_legacy_registry(api, cluster_ids):
    api.call("kubernetes.remove_registry", {"cluster_uuids": list(cluster_ids)}, missing_ok=False)


# ---- pure helpers --------------------------------------------------------------------------------

def _resolve(clusters, refs, option):
    """``(resolved, unknown, ambiguous, problems)``: ``resolve_clusters`` without raising."""
    by_id = dict((c["id"], c) for c in clusters)
    by_name = {}
    for cluster in clusters:
        by_name.setdefault(cluster["name"], []).append(cluster)
    resolved = {}
    unknown = []
    ambiguous = []
    for ref in refs:
        if ref in by_id:
            resolved[ref] = by_id[ref]
        elif len(by_name.get(ref, [])) == 1:
            resolved[ref] = by_name[ref][0]
        elif ref in by_name:
            if ref not in ambiguous:
                ambiguous.append(ref)
        elif ref not in unknown:
            unknown.append(ref)
    problems = []
    if unknown:
        known = sorted(c["name"] for c in clusters)
        problems.append(
            "%s: unknown DOKS cluster%s %s (the account has: %s)"
            % (option, "s" if len(unknown) > 1 else "", ", ".join(repr(u) for u in unknown), ", ".join(known) or "no clusters")
        )
    if ambiguous:
        problems.append(
            "%s: several clusters are named %s; use their UUIDs" % (option, ", ".join(repr(a) for a in ambiguous))
        )
    return resolved, unknown, ambiguous, problems


def resolve_clusters(clusters, refs, option="clusters"):
    """Map each reference (cluster name or UUID) to its cluster.

    Returns ``{ref: cluster}``. Fails (before any write) listing every unknown reference, and every
    name that matches more than one cluster.
    """
    resolved, unknown, ambiguous, problems = _resolve(clusters, refs, option)
    if problems:
        raise DocrInputError("; ".join(problems) + ".", unknown_clusters=unknown, ambiguous_clusters=ambiguous)
    return resolved


def select_clusters(clusters, refs):
    """The clusters ``refs`` (names or UUIDs) name, each once, in the order of ``clusters``; unknown refs select none.

    A name shared by several clusters selects all of them: the ``_info`` answer to "which of these exist".
    """
    wanted = set(refs)
    return [c for c in clusters if c["id"] in wanted or c["name"] in wanted]


def _unknown_registries(known, names, option):
    """``(unknown, problem or None)`` for the registry ``names`` not in ``known`` (names)."""
    unknown = []
    for name in names:
        if name not in known and name not in unknown:
            unknown.append(name)
    if not unknown:
        return unknown, None
    return unknown, "%s: unknown registr%s %s (the account has: %s)" % (
        option, "ies" if len(unknown) > 1 else "y", ", ".join(repr(u) for u in unknown), ", ".join(sorted(known)) or "no registries")


def check_registries(registries, names, option="registries"):
    """Fail (before any write) listing every registry name the account does not have."""
    known = dict((r.get("name"), r) for r in registries)
    unknown, problem = _unknown_registries(known, names, option)
    if problem:
        raise DocrInputError(problem + ".", unknown_registries=unknown)
    return known


def cross_region_pairs(pairs, registry_regions):
    """The (cluster, registry) pairs whose regions differ, as ``(cluster, registry, registry_region)``."""
    result = []
    for cluster, registry in pairs:
        region = registry_regions.get(registry)
        if region and cluster.get("region") and region != cluster["region"]:
            result.append((cluster, registry, region))
    return result


def group_writes(wanted):
    """Batch per-cluster registry sets into as few calls as the API allows.

    ``wanted`` maps a cluster id to the registries to add (or remove) on it. The API call takes a list
    of clusters and a list of registries and applies every registry to every cluster, so clusters that
    need the same set share one call. Returns ``[(cluster_ids, registries)]``, in a stable order.
    """
    groups = {}
    for cluster_id, registries in wanted.items():
        if registries:
            groups.setdefault(tuple(sorted(registries)), []).append(cluster_id)
    return [(sorted(ids), list(regs)) for regs, ids in sorted(groups.items())]


# ---- the integration planner (pure) --------------------------------------------------------------

def integration_item(registries, clusters, allow_cross_region=False, where=None, clusters_option=None, registries_option=None):
    """One thing asked for: the ``clusters`` (names or UUIDs) pull from the ``registries``.

    ``registries`` None asks for the single-registry integration (the account's only registry); such an
    item must be the only one. ``where`` names the item in messages (``integrations[2]``); the options its
    messages name are ``WHERE.clusters`` and ``WHERE.registry`` (without ``where``: ``clusters`` and
    ``registries``), unless ``clusters_option`` / ``registries_option`` name them (a role's variables).
    """
    return dict(
        registries=None if registries is None else list(registries),
        clusters=list(clusters or []),
        allow_cross_region=bool(allow_cross_region),
        where=where,
        clusters_option=clusters_option or ("%s.clusters" % where if where else "clusters"),
        registries_option=registries_option or ("%s.registry" % where if where else "registries"),
    )


def _name_problems(names, option):
    problems = []
    for name in names:
        try:
            _registry.require_name(name, option)
        except DocrInputError as exc:
            if exc.msg not in problems:
                problems.append(exc.msg)
    return problems


def wanted_from_options(clusters=None, registries=None, integrations=None):
    """The module's options as ``integration_item`` s, checked before any API call.

    ``integrations`` (a list of dicts: registry, clusters, allow_cross_region) wins over ``clusters`` and
    ``registries`` (the argument spec makes them exclusive). Raises ``DocrInputError`` listing every problem,
    each naming its option.
    """
    problems = []
    items = []
    if integrations is not None:
        if not integrations:
            problems.append("integrations must hold at least one registry with its clusters.")
        for index, entry in enumerate(integrations):
            where = "integrations[%d]" % index
            item = integration_item([entry.get("registry")], entry.get("clusters"), entry.get("allow_cross_region"), where)
            problems.extend(_name_problems(item["registries"], item["registries_option"]))
            if not item["clusters"]:
                problems.append("%s must name at least one cluster." % item["clusters_option"])
            items.append(item)
    else:
        item = integration_item(registries, clusters)
        if not item["clusters"]:
            problems.append("clusters must name at least one DOKS cluster (by name or UUID).")
        if registries is not None:
            if not registries:
                problems.append("registries must name at least one registry; omit it for the single-registry integration.")
            problems.extend(_name_problems(registries, "registries"))
        items.append(item)
    if problems:
        raise DocrInputError(" ".join(problems))
    return items


def registry_regions(registries):
    """``{name: region}`` from a registry list (as ``_registry.list_registries`` returns it)."""
    return dict((r.get("name"), r.get("region")) for r in registries)


class IntegrationReview(object):
    """What ``review_integration`` found: every problem at once, or the plan (never both).

    - ``problems``: sentences, each naming the option (``integrations[1].clusters``), cluster and registry;
    - ``details``: the same as values, for a failure's result (``unknown_clusters``, ``ambiguous_clusters``,
      ``unknown_registries``, ``cross_region``; only the non-empty ones);
    - ``plan``: a ``Plan`` when there is no problem, else None (no write is planned on any error);
    - ``cross_region`` and ``warnings``: the cross-region pairs that are not allowed, and their warning.
    """

    def __init__(self, problems, details, plan, cross_region, warnings):
        self.problems = problems
        self.details = details
        self.plan = plan
        self.cross_region = cross_region
        self.warnings = warnings

    @property
    def message(self):
        return " ".join(self.problems)


def review_integration(clusters, registries, wanted, state="present", require_colocation=True):
    """Plan an integration against the account, or list every reason it cannot be planned. Pure.

    - ``clusters``: every cluster of the account, normalised (``normalize_cluster``);
    - ``registries``: ``{name: region}`` of every registry of the account (``registry_regions``); a caller
      planning registries not created yet may include them with their region;
    - ``wanted``: ``integration_item`` s (``wanted_from_options``);
    - ``state``: ``present`` adds, ``absent`` removes only the named registries;
    - ``require_colocation``: a cluster pulling from a registry in another region is a problem (unless its
      item allows it), else a warning.

    What is compared depends on the path, since the API documents no relation between a cluster's
    ``registry_enabled`` and its ``registries``: with registries named, ``registries`` alone; with the
    single-registry integration, a cluster is integrated when either signal says so, and ``absent``
    clears whichever is set (both simulator readings, ``mirrors_registries`` and ``legacy_only``).

    The plan's before/after are ``{"clusters": {cluster name: {"registries": [...]}}}`` (or
    ``{"integrated": bool}`` on the single-registry path); its writes are one per distinct registry set
    (``group_writes``), the single-registry call first; its result holds ``clusters`` (the named clusters
    after the run, in the order first named) and ``cross_region``.
    """
    legacy = any(item["registries"] is None for item in wanted)
    if legacy and len(wanted) != 1:
        raise ValueError("the single-registry integration is asked for by one item alone")
    absent = state == "absent"
    problems = []
    details = dict(unknown_clusters=[], ambiguous_clusters=[], unknown_registries=[], cross_region=[])

    legacy_name = None
    if legacy:
        if len(registries) > 1:
            # The single-registry endpoints answer 412 on accounts with several registries.
            problems.append(
                "registries is required: the account has %d registries (%s), and the single-registry integration "
                "works only on accounts with one. List the registries each cluster should pull from."
                % (len(registries), ", ".join(sorted(registries))))
        elif not registries and not absent:
            problems.append("The account has no container registry to integrate; create one first (docr_registry).")
        elif registries:
            legacy_name = list(registries)[0]

    # Clusters in the order first named, what each should have, and the pairs to check for co-location.
    order = []
    want = {}
    checked = []  # (cluster id, registry, where) not allowed across regions, each pair once
    seen = set()
    for item in wanted:
        resolved, unknown, ambiguous, found = _resolve(clusters, item["clusters"], item["clusters_option"])
        problems.extend(text + "." for text in found)
        _extend(details["unknown_clusters"], unknown)
        _extend(details["ambiguous_clusters"], ambiguous)
        names = item["registries"]
        if names is None:
            names = [legacy_name] if legacy_name is not None else []
        else:
            unknown, problem = _unknown_registries(registries, names, item["registries_option"])
            if problem:
                problems.append(problem + ".")
                _extend(details["unknown_registries"], unknown)
            names = [name for name in names if name not in unknown]
        for ref in item["clusters"]:
            cluster = resolved.get(ref)
            if cluster is None:
                continue
            if cluster["id"] not in want:
                order.append(cluster)
                want[cluster["id"]] = []
            _extend(want[cluster["id"]], names)
            for name in names:
                if not item["allow_cross_region"] and (cluster["id"], name) not in seen:
                    seen.add((cluster["id"], name))
                    checked.append((cluster["id"], name, item["where"]))

    cross = []
    texts = []
    by_id = dict((c["id"], c) for c in order)
    if not absent:
        pairs = [(by_id[cid], name) for cid, name, _where in checked]
        wheres = dict(((cid, name), where) for cid, name, where in checked)
        for cluster, name, region in cross_region_pairs(pairs, registries):
            cross.append(dict(cluster=cluster["name"], cluster_region=cluster["region"], registry=name, registry_region=region))
            where = wheres[(cluster["id"], name)]
            texts.append("%scluster %s (%s) would pull from registry %s (%s)" % (
                where + ": " if where else "", cluster["name"], cluster["region"], name, region))
    warnings = []
    if cross and require_colocation:
        problems.append(
            "require_colocation: clusters and registries in different regions: %s. Use a registry in the cluster's "
            "region, or allow the pair explicitly (allow_cross_region: true on its integrations item, or "
            "require_colocation: false)." % "; ".join(texts))
        details["cross_region"] = cross
    elif cross:
        warnings.append("Cross-region registry integration: %s. Image pulls across regions are slower and the transfer "
                        "is billed." % "; ".join(texts))

    details = dict((key, value) for key, value in details.items() if value)
    if problems:
        return IntegrationReview(problems, details, None, cross, warnings)
    plan = _integration_plan(order, want, legacy, legacy_name, absent)
    plan.result["cross_region"] = cross
    plan.warnings = warnings
    return IntegrationReview([], {}, plan, cross, warnings)


def plan_integration(clusters, registries, wanted, state="present", require_colocation=True):
    """``review_integration``'s plan; its problems, all at once, as one ``DocrInputError`` (before any write)."""
    review = review_integration(clusters, registries, wanted, state, require_colocation)
    if review.problems:
        raise DocrInputError(review.message, **review.details)
    return review.plan


def _extend(target, values):
    for value in values:
        if value not in target:
            target.append(value)


def _integration_plan(order, want, legacy, legacy_name, absent):
    after = {}
    legacy_ids = []
    named = {}
    for cluster in order:
        have = set(cluster["registries"])
        names = set(want[cluster["id"]])
        new = dict(cluster)
        if legacy:
            listed = legacy_name is not None and legacy_name in have
            if absent:
                if cluster["registry_enabled"]:
                    legacy_ids.append(cluster["id"])
                if listed:
                    named[cluster["id"]] = [legacy_name]
                new.update(registry_enabled=False, registries=sorted(have - set([legacy_name])))
            elif not (cluster["registry_enabled"] or listed):
                legacy_ids.append(cluster["id"])
                new.update(registry_enabled=True)
        elif absent:
            if have & names:
                named[cluster["id"]] = sorted(names)
                new.update(registries=sorted(have - names))
        elif not names <= have:
            # the whole wanted set: adding is a union, and clusters wanting the same set share one call
            named[cluster["id"]] = sorted(names)
            new.update(registries=sorted(have | names))
        after[cluster["id"]] = new

    label = dict((c["id"], c["name"]) for c in order)
    writes = []
    if legacy_ids:
        ids = sorted(legacy_ids)
        writes.append(Write(
            "%s the single-registry integration %s clusters %s" % (
                "remove" if absent else "add", "from" if absent else "to", ", ".join(label[i] for i in ids)),
            remove_legacy_registry if absent else add_legacy_registry, ids))
    for ids, names in group_writes(named):
        writes.append(Write(
            "%s registries %s %s clusters %s" % (
                "remove" if absent else "add", ", ".join(names), "from" if absent else "to", ", ".join(label[i] for i in ids)),
            change_registries, not absent, ids, names))

    view = integration_view(legacy, legacy_name)
    keys = _keys(order)
    before = dict(clusters=dict((keys[c["id"]], view(c)) for c in order))
    after_state = dict(clusters=dict((keys[c["id"]], view(after[c["id"]])) for c in order))
    return Plan(before, after_state, writes, result=dict(clusters=[after[c["id"]] for c in order]))


def integration_view(legacy=False, legacy_name=None):
    """The normalised state of one cluster that ``changed`` and the diff compare.

    Per registry: ``{"registries": [...]}``. Single registry: ``{"integrated": bool}``, true when either
    signal says so (the ``registry_enabled`` flag, or the account's registry in ``registries``).
    """
    if legacy:
        return lambda c: dict(integrated=bool(c["registry_enabled"] or (legacy_name is not None and legacy_name in c["registries"])))
    return lambda c: dict(registries=list(c["registries"]))


def _keys(order):
    """A cluster's key in before/after: its name, or ``name (id)`` where several named clusters share it."""
    count = {}
    for cluster in order:
        count[cluster["name"]] = count.get(cluster["name"], 0) + 1
    return dict((c["id"], c["name"] if count[c["name"]] == 1 else "%s (%s)" % (c["name"], c["id"])) for c in order)
