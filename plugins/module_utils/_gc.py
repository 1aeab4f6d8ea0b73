# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: garbage-collection calls and their normaliser.

Shared by ``docr_gc`` and ``docr_gc_info`` so their return shapes never drift.
"""

import re

from ansible_collections.dockyard.docr.plugins.module_utils._base import MAX_SECONDS, check_number
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError, DocrError
from ansible_collections.dockyard.docr.plugins.module_utils._registry import unless_registry_missing
from ansible_collections.dockyard.docr.plugins.module_utils._time import parse_duration, parse_time

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

# The options of one GC run, as docr_gc takes them: its argument spec is built from these, and
# gc_schedule validates each scheduled registry with them (and with run_option_problems) at deploy time.
RUN_OPTIONS = dict(
    type=dict(type="str", choices=sorted(GC_TYPES), default=DEFAULT_TYPE),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=1800),
    poll_interval=dict(type="float", default=5),
    if_active=dict(type="str", choices=["wait", "skip", "fail"]),
    deadline=dict(type="int"),
    min_interval=dict(type="str"),
    quiet_period=dict(type="int"),
)


# Upper bounds of the GC options (beyond them, a typo).
MAX_POLL_INTERVAL = 3600
MAX_HISTORY = 1000


def run_option_problems(p):
    """Every problem with the (type-checked) RUN_OPTIONS in ``p``, as messages naming the option."""
    checks = [
        lambda: check_number(p["wait_timeout"], "wait_timeout", 0, above_minimum=True),
        lambda: check_number(p["poll_interval"], "poll_interval", 0, MAX_POLL_INTERVAL, above_minimum=True),
        lambda: check_number(p["deadline"], "deadline", 0, above_minimum=True),
        lambda: check_number(p["quiet_period"], "quiet_period", 0, MAX_SECONDS // 60, unit="minutes"),
        lambda: parse_duration(p["min_interval"], "min_interval"),
    ]
    if "history" in p:
        checks.append(lambda: check_number(p["history"], "history", 0, MAX_HISTORY, unit="GCs"))
    problems = []
    for check in checks:
        try:
            check()
        except DocrError as exc:
            problems.append(exc.msg)
    if p["deadline"] is not None and not p["wait"]:
        problems.append("deadline needs wait=true: the module can only cancel a GC it is waiting on.")
    if p["if_active"] == "wait" and not p["wait"]:
        problems.append("if_active=wait needs wait=true.")
    return problems


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


def _refusal_to_read_back(exc):
    """True for a 4xx whose meaning the spec leaves open, so the state must be read back to decide.

    The spec documents no status for "a GC is already active" or "that GC has already ended" (the API is seen
    answering 409, and 412 on the legacy endpoints of a multi-registry account). Any other 4xx than these
    known ones is handled by the condition, read back, not by its number: 401/403 (the token), 404 (the
    registry or GC is missing: a value) and 429 (retried by the client) keep their documented meaning.
    """
    status = getattr(exc, "status_code", None)
    return status is not None and 400 <= status < 500 and status not in (401, 403, 404, 429)


def start(api, registry, gc_type):
    """Start a GC of ``gc_type`` (an option value); always sends the type (the API's default frees little).

    After a refusal (a 4xx, see ``_refusal_to_read_back``) the active GC is read back: if one is active, the
    error raised carries it as ``active_gc`` (the caller treats it as found active); if none is, the
    refusal is reported as it came.
    """

    def recover():
        # After a lost answer: if a GC is now active, the start went through (one per registry at most).
        found = api.call("registries.get_garbage_collection", registry)
        return found if found and (found.get("garbage_collection") or {}).get("uuid") else None

    try:
        body = api.raw("POST", _path(registry, "garbage-collection"), body={"type": GC_TYPES[gc_type]}, recover=recover)
    except DocrApiError as exc:
        if not _refusal_to_read_back(exc):
            raise
        active = get_active(api, registry)
        if active is None:
            raise
        raise DocrError(
            "Another garbage collection of registry %s (%s) was active when this one was to start (HTTP %s: %s); "
            "not starting a second one." % (registry, active.get("uuid"), exc.status_code, exc.error_message),
            status_code=exc.status_code, active_gc=active,
        )
    return normalize_gc((body or {}).get("garbage_collection"))


def cancel(api, registry, uuid):
    """Cancel the GC ``uuid``; None when it had already ended.

    After a refusal (a 4xx, see ``_refusal_to_read_back``; the API is seen answering 409 once the GC has ended)
    the GC is read back: ended, the cancel has nothing left to do (None); already cancelling, it is
    returned; still running, or not found, the refusal is reported as it came.
    """
    try:
        body = api.call("registries.update_garbage_collection", registry, uuid, {"cancel": True}, missing_ok=False)
    except DocrApiError as exc:
        if not _refusal_to_read_back(exc):
            raise
        gc = get_by_uuid(api, registry, uuid)
        if gc is not None and is_terminal(gc):
            return None
        if gc is not None and gc.get("status") == "cancelling":
            return gc
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
