# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: registry, subscription and repository calls, and their normalisers.

The normalisers are shared by ``docr_registry`` and ``docr_registry_info`` so their return shapes
never drift.
"""

import re

from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError, DocrInputError

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
