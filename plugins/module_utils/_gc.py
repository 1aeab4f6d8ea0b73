# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: garbage-collection calls, their normaliser, and the time helpers GC needs.

Shared by ``docr_gc`` and ``docr_gc_info`` so their return shapes never drift.
"""

import calendar
import re
import time

from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError, DocrError
from ansible_collections.dockyard.docr.plugins.module_utils._registry import unless_registry_missing

# Option value -> the string the API takes in the ``type`` body of "Start Garbage Collection".
# The multi-registry spec omits that body; the legacy endpoint documents it, and the API accepts it on both.
GC_TYPES = {
    "untagged_manifests_and_unreferenced_blobs": "untagged manifests and unreferenced blobs",
    "untagged_manifests_only": "untagged manifests only",
    "unreferenced_blobs_only": "unreferenced blobs only",
}
DEFAULT_TYPE = "untagged_manifests_and_unreferenced_blobs"
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")
# Statuses the spec documents; anything else is reported and waited on, never crashed on.
KNOWN_STATUSES = (
    "requested",
    "waiting for write JWTs to expire",
    "scanning manifests",
    "deleting unreferenced blobs",
    "cancelling",
) + TERMINAL_STATUSES

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
MAX_INTERVAL = 10 * 365 * 86400
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_interval(value, option):
    """Seconds in ``7d``, ``12h``, ``30m``, ``90s``, ``2w`` or a plain number of seconds."""
    if value is None:
        return None
    match = _INTERVAL.match(str(value).lower())
    if not match:
        raise DocrError(
            "%s %r is not a duration: use a number followed by s, m, h, d or w, such as 7d or 12h." % (option, value)
        )
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_INTERVAL:
        raise DocrError("%s %r is longer than ten years; use a duration such as 7d or 12h." % (option, value))
    return seconds


def parse_time(value):
    """Epoch seconds of an API timestamp (``2026-11-22T07:36:58Z``, fractions and offsets allowed), or None."""
    if not value or not isinstance(value, str):
        return None
    match = re.match(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", value.strip())
    if not match:
        return None
    parts = [int(p) for p in match.groups()[:6]]
    epoch = calendar.timegm((parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], 0, 0, 0))
    if match.group(7):
        epoch += float(match.group(7))
    zone = match.group(8)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        epoch += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return epoch


def format_time(epoch):
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def type_option(api_type):
    """The option value for a type string the API returned (spaces, hyphens or underscores)."""
    if not api_type:
        return None
    return re.sub(r"[\s-]+", "_", str(api_type).strip().lower())


def normalize_gc(obj):
    if not obj:
        return None
    return dict(
        uuid=obj.get("uuid"),
        registry_name=obj.get("registry_name"),
        status=obj.get("status"),
        type=type_option(obj.get("type")),
        blobs_deleted=obj.get("blobs_deleted"),
        freed_bytes=obj.get("freed_bytes"),
        created_at=obj.get("created_at"),
        updated_at=obj.get("updated_at"),
    )


def is_terminal(gc):
    return gc is not None and gc.get("status") in TERMINAL_STATUSES


# ---- calls ---------------------------------------------------------------------------------------

def _path(registry, *rest):
    return "/v2/registries/%s/%s" % (registry, "/".join(rest))


def get_active(api, registry):
    """The active GC (normalised), or None when none is running (the API answers 404)."""
    body = api.call("registries.get_garbage_collection", registry)
    gc = normalize_gc((body or {}).get("garbage_collection"))
    # The "active" endpoint is not expected to show a finished GC; treat one as "none active".
    return None if gc is None or is_terminal(gc) else gc


def list_gcs(api, registry, limit=None):
    """The registry's GCs, newest first (``limit`` of them when set: one page when it fits); None when the registry is missing.

    A 404 on the list means "missing" only when the registry's own GET confirms it (see
    ``unless_registry_missing``); any other answer without a list is an error.
    """
    def listing():
        if limit:
            body = api.call("registries.list_garbage_collections", registry, per_page=min(200, max(1, limit)), missing_ok=False)
            items = body.get("garbage_collections") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise DocrApiError("The DigitalOcean API listed the garbage collections of registry %s without a list."
                                   % registry, status_code=None)
            more = ((body.get("links") or {}).get("pages") or {}).get("next")
            if more and len(items) < limit:
                items = api.paginate("registries.list_garbage_collections", "garbage_collections", registry)
            return items
        return api.paginate("registries.list_garbage_collections", "garbage_collections", registry)

    items = unless_registry_missing(api, registry, listing)
    if items is None:
        return None
    gcs = [normalize_gc(item) for item in items]
    gcs.sort(key=lambda gc: parse_time(gc.get("created_at")) or 0, reverse=True)
    return gcs[:limit] if limit else gcs


def start(api, registry, gc_type):
    """Start a GC of ``gc_type`` (an option value); always sends the type (the API's default frees little)."""

    def recover():
        # After a lost answer: if a GC is now active, the start went through (one per registry at most).
        found = api.call("registries.get_garbage_collection", registry)
        return found if found and (found.get("garbage_collection") or {}).get("uuid") else None

    try:
        body = api.raw("POST", _path(registry, "garbage-collection"), body={"type": GC_TYPES[gc_type]}, recover=recover)
    except DocrApiError as exc:
        if exc.status_code == 409:
            raise DocrError(
                "Another garbage collection of registry %s became active just before this one was to start (HTTP 409: %s); "
                "not starting a second one." % (registry, exc.error_message), status_code=409,
            )
        raise
    return normalize_gc((body or {}).get("garbage_collection"))


def cancel(api, registry, uuid):
    """Cancel the GC ``uuid``; None when it had already ended (the API answers 409)."""
    try:
        body = api.call("registries.update_garbage_collection", registry, uuid, {"cancel": True}, missing_ok=False)
    except DocrApiError as exc:
        if exc.status_code == 409:
            return None
        raise
    return normalize_gc((body or {}).get("garbage_collection"))


def get_by_uuid(api, registry, uuid):
    """The GC ``uuid``: the active one if it is, else its entry in the history (it has finished)."""
    active = api.call("registries.get_garbage_collection", registry)
    gc = normalize_gc((active or {}).get("garbage_collection"))
    if gc is not None and gc.get("uuid") == uuid:
        return gc
    for item in list_gcs(api, registry, limit=20) or []:
        if item.get("uuid") == uuid:
            return item
    return None


def last_succeeded(gcs):
    done = [gc for gc in gcs or [] if gc.get("status") == "succeeded"]
    if not done:
        return None
    return max(done, key=lambda gc: parse_time(gc.get("updated_at")) or parse_time(gc.get("created_at")) or 0)


def latest_push(api, registry):
    """(epoch, repository, tags) of the newest manifest in the registry, or None when it holds no images.

    repositoriesV2 carries each repository's latest manifest, so this costs one call per 200 repositories.
    """
    repos = unless_registry_missing(api, registry, lambda: api.paginate("registries.list_repositories_v2", "repositories", registry))
    if repos is None:
        raise DocrError("Registry %r (option registry) does not exist." % registry)
    newest = None
    for repo in repos or []:
        latest = repo.get("latest_manifest") or {}
        when = parse_time(latest.get("updated_at"))
        if when is not None and (newest is None or when > newest[0]):
            newest = (when, repo.get("name"), list(latest.get("tags") or []))
    return newest
