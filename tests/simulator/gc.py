"""The garbage-collection state machine: statuses, types, and how a GC moves along the simulated clock.

A GC is a dict (see ``Account.start_gc``). :func:`advance` is the only code that moves one along; the
account calls it from ``Account.advance_to``, once per request (see server.py), never from a read.
"""

from .errors import unprocessable

PHASES = ["requested", "waiting for write JWTs to expire", "scanning manifests", "deleting unreferenced blobs"]
TERMINAL = ("succeeded", "failed", "cancelled")
SPEC_STATUSES = PHASES + ["cancelling", "failed", "succeeded", "cancelled"]
WAIT_PHASE = PHASES[1]
DEFAULT_PHASE_SECONDS = {
    "requested": 5.0,
    "waiting for write JWTs to expire": 60.0,
    "scanning manifests": 30.0,
    "deleting unreferenced blobs": 30.0,
    "cancelling": 2.0,
}
# The spec's spelling (the enum of the legacy endpoint's body; godo's GarbageCollectionType constants).
UNTAGGED = "untagged manifests only"
BLOBS = "unreferenced blobs only"
BOTH = "untagged manifests and unreferenced blobs"
TYPES = (UNTAGGED, BLOBS, BOTH)
# Without a body the API runs a blob-only GC: doctl sends this type unless told otherwise, and the spec
# describes the operation as clearing unreferenced blobs. (An assumption: see README.md.)
DEFAULT_TYPE = BLOBS


def normalise_type(value):
    """The spec's spelling only (``untagged manifests only`` ...); no type means the API's default."""
    if value is None:
        return DEFAULT_TYPE
    if value not in TYPES:
        raise unprocessable("invalid garbage collection type %r: expected one of %s"
                            % (value, ", ".join(repr(item) for item in TYPES)))
    return value


def is_active(gc):
    return gc["status"] not in TERMINAL


def phase_configuration(phase_seconds, key):
    """The phase a seed or ``/_sim/config`` key names (``scanning_manifests``...), or a ValueError."""
    status = str(key).replace("_", " ")
    if status == "waiting for write jwts to expire":
        status = WAIT_PHASE
    if status not in phase_seconds:
        raise ValueError("unknown GC phase %r (known: %s)" % (key, ", ".join(sorted(phase_seconds))))
    return status


def advance(gc, now, phase_seconds, finish, wait_until=None):
    """Move ``gc`` through every phase that ended by ``now``.

    ``finish(gc)`` runs when the last phase ends (it deletes and sets the final status). ``wait_until``, when
    given, is the time the write-token wait cannot end before (the data plane's last write token). A GC whose
    status was forced outside the state machine stays where it is.
    """
    while is_active(gc) and not gc["forced"]:
        duration = phase_seconds.get(gc["status"], 0.0)
        if wait_until is not None and gc["status"] == WAIT_PHASE:
            duration = max(duration, wait_until - gc["phase_started"])
        if now < gc["phase_started"] + duration:
            return
        at = gc["phase_started"] + duration
        gc["phase_started"] = at
        gc["updated_at"] = at
        if gc["status"] == "cancelling":
            gc["status"] = "cancelled"
        elif gc["status"] == PHASES[-1]:
            finish(gc)
        else:
            gc["status"] = PHASES[PHASES.index(gc["status"]) + 1]
