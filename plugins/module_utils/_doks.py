# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: DOKS clusters and their container registry integration.

The normaliser is shared by ``docr_doks_integration`` and ``docr_doks_integration_info`` so their
return shapes never drift. The planning functions are pure (no API calls) so that the module can
validate everything before it writes anything.
"""

from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrInputError


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


# The legacy single-registry integration (POST/DELETE /v2/kubernetes/registry) integrates "the" registry
# of a one-registry account. It is what the console's 1-click button and `doctl kubernetes cluster
# registry add` use, and the only form for accounts that never moved to several registries.
def add_legacy_registry(api, cluster_ids):
    api.call("kubernetes.add_registry", {"cluster_uuids": list(cluster_ids)}, missing_ok=False)


def remove_legacy_registry(api, cluster_ids):
    api.call("kubernetes.remove_registry", {"cluster_uuids": list(cluster_ids)}, missing_ok=False)


# ---- pure helpers --------------------------------------------------------------------------------

def resolve_clusters(clusters, refs, option="clusters"):
    """Map each reference (cluster name or UUID) to its cluster.

    Returns ``{ref: cluster}``. Fails (before any write) listing every unknown reference, and every
    name that matches more than one cluster.
    """
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
    if problems:
        raise DocrInputError("; ".join(problems) + ".", unknown_clusters=unknown, ambiguous_clusters=ambiguous)
    return resolved


def check_registries(registries, names, option="registries"):
    """Fail (before any write) listing every registry name the account does not have."""
    known = dict((r.get("name"), r) for r in registries)
    unknown = []
    for name in names:
        if name not in known and name not in unknown:
            unknown.append(name)
    if unknown:
        raise DocrInputError(
            "%s: unknown registr%s %s (the account has: %s)."
            % (option, "ies" if len(unknown) > 1 else "y", ", ".join(repr(u) for u in unknown),
               ", ".join(sorted(known)) or "no registries"),
            unknown_registries=unknown,
        )
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
