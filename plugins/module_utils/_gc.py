# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: garbage collection - its options, calls, normaliser and pure planner.

The normaliser is shared by ``docr_gc`` and ``docr_gc_info`` so their return shapes never drift. The planner
(``decide``/``plan``, below) makes every decision of ``docr_gc`` from what was read; the GC it starts or joins
is followed to its end by ``GcWait``, the engine's long-running follow-up (``_wait.LongRunning``).
"""

import re

from ansible_collections.dockyard.docr.plugins.module_utils import _registry
from ansible_collections.dockyard.docr.plugins.module_utils._base import MAX_SECONDS, Plan, StateMoved, Write, check_number
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError, DocrError, DocrInputError
from ansible_collections.dockyard.docr.plugins.module_utils._registry import unless_registry_missing
from ansible_collections.dockyard.docr.plugins.module_utils._time import ago, parse_duration, parse_time
from ansible_collections.dockyard.docr.plugins.module_utils._wait import LongRunning, WaitTimeout

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
# The durations are ``raw``: a number in the option's own unit (kept for compatibility) or a string such as
# 30m, 2h or 7d, all read by _time.parse_duration (see DURATIONS).
RUN_OPTIONS = dict(
    type=dict(type="str", choices=sorted(GC_TYPES), default=DEFAULT_TYPE),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="raw", default=1800),
    poll_interval=dict(type="raw", default=5),
    if_active=dict(type="str", choices=["wait", "skip", "fail"]),
    deadline=dict(type="raw"),
    min_interval=dict(type="raw"),
    quiet_period=dict(type="raw"),
)


# Upper bounds of the GC options (beyond them, a typo).
MAX_POLL_INTERVAL = 3600
MAX_HISTORY = 1000
# The duration options: (option, seconds in a plain number, must be above zero, maximum seconds).
DURATIONS = (
    ("wait_timeout", 1, True, MAX_SECONDS),
    ("poll_interval", 1, True, MAX_POLL_INTERVAL),
    ("deadline", 1, True, MAX_SECONDS),
    ("min_interval", 1, False, MAX_SECONDS),
    ("quiet_period", 60, False, MAX_SECONDS),
)
# How long to wait for a cancellation to land (the API moves cancelling -> cancelled within seconds).
CANCEL_WAIT = 300
# Rounds of the client's retries spent on the cancel at the deadline before giving up.
CANCEL_ROUNDS = 3


def _duration(p, option, number_unit, above_zero, maximum):
    seconds = parse_duration(p.get(option), option, number_unit=number_unit, maximum=maximum)
    if above_zero and seconds is not None and seconds <= 0:
        raise DocrInputError("%s must be more than 0 seconds, got %r." % (option, p.get(option)))
    return seconds


def _parsed(p):
    """(the durations of ``p`` in seconds, every problem with the RUN_OPTIONS in ``p`` as a message naming the option)."""
    seconds = {}
    problems = []
    for option, number_unit, above_zero, maximum in DURATIONS:
        try:
            seconds[option] = _duration(p, option, number_unit, above_zero, maximum)
        except DocrError as exc:
            problems.append(exc.msg)
            seconds[option] = None
    if "history" in p:
        try:
            check_number(p["history"], "history", 0, MAX_HISTORY, unit="GCs")
        except DocrError as exc:
            problems.append(exc.msg)
    if p.get("deadline") is not None and not p["wait"]:
        problems.append("deadline needs wait=true: the module can only cancel a GC it is waiting on.")
    if p.get("if_active") == "wait" and not p["wait"]:
        problems.append("if_active=wait needs wait=true.")
    return seconds, problems


def run_option_problems(p):
    """Every problem with the (type-checked) RUN_OPTIONS in ``p``, as messages naming the option."""
    return _parsed(p)[1]


class Options(object):
    """docr_gc's options, checked before any API call: durations in seconds, ``if_active`` resolved."""

    def __init__(self, registry, state="started", gc_type=DEFAULT_TYPE, wait=True, wait_timeout=1800.0, poll_interval=5.0,
                 if_active=None, deadline=None, min_interval=None, quiet_period=None, history=0, check_mode=False,
                 min_interval_text=None, quiet_period_text=None):
        self.registry = registry
        self.state = state
        self.type = gc_type
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.if_active = if_active or ("wait" if wait else "skip")
        self.deadline = deadline
        self.min_interval = min_interval
        self.quiet_period = quiet_period
        self.history = history
        self.check_mode = check_mode
        # the values as the user wrote them, for the skip reasons
        self.min_interval_text = min_interval_text if min_interval_text is not None else _plain(min_interval, "s")
        self.quiet_period_text = quiet_period_text if quiet_period_text is not None else _plain(quiet_period, "s")

    @classmethod
    def from_params(cls, p, check_mode=False):
        """The options of the module's params; ``DocrInputError`` naming every bad option at once."""
        problems = []
        name_problem = _registry.check_name(p["registry"], "registry")
        if name_problem:
            problems.append(name_problem)
        seconds, option_problems = _parsed(p)
        problems.extend(option_problems)
        if problems:
            raise DocrInputError(" ".join(problems))
        return cls(p["registry"], state=p.get("state") or "started", gc_type=p["type"], wait=p["wait"],
                   if_active=p["if_active"], history=p.get("history") or 0, check_mode=check_mode,
                   min_interval_text=_written(p["min_interval"], " seconds"), quiet_period_text=_written(p["quiet_period"], " minutes"),
                   **seconds)


def _plain(seconds, unit):
    return None if seconds is None else "%g%s" % (seconds, unit)


def _written(value, number_unit):
    """An option's value as the user wrote it (a plain number with its unit)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().replace(".", "", 1).isdigit()):
        return "%s%s" % (str(value).strip(), number_unit)
    return str(value).strip()


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


# ---- the planner ---------------------------------------------------------------------------------
#
# What a run decides is a pure function of what it read (``Facts``) and its ``Options``: ``decide`` returns
# a ``Plan`` (before: the active GC or None; after: the GC as this run leaves it, the predicted one when it
# starts one), or a ``Need`` naming the one fact it still has to read. ``read`` reads exactly what the
# planner asks for, in its order, so a run skipped by min_interval never reads the pushes, and a run that
# finds a GC active reads nothing else.

class _Unread(object):
    def __repr__(self):
        return "UNREAD"

    def __bool__(self):
        raise TypeError("a fact that was not read has no truth value")

    __nonzero__ = __bool__


UNREAD = _Unread()


class Facts(object):
    """What a run read: ``active`` (the active GC or None), ``history`` (the GCs, None when the registry is
    missing), ``latest_push`` ((epoch, repository, tags) or None), ``registry_exists`` (bool), ``now`` (the
    API's clock, epoch seconds). A fact not read (yet) is ``UNREAD``."""

    FIELDS = ("active", "history", "latest_push", "registry_exists")

    def __init__(self, active=UNREAD, history=UNREAD, latest_push=UNREAD, registry_exists=UNREAD, now=None):
        self.active = active
        self.history = history
        self.latest_push = latest_push
        self.registry_exists = registry_exists
        self.now = now

    def having(self, **changes):
        values = dict((field, getattr(self, field)) for field in self.FIELDS + ("now",))
        values.update(changes)
        return Facts(**values)

    def __repr__(self):
        return "Facts(%s)" % ", ".join("%s=%r" % (f, getattr(self, f)) for f in self.FIELDS + ("now",))


class Need(object):
    """The planner's answer when it has to know ``fact`` before it can decide."""

    def __init__(self, fact):
        self.fact = fact

    def __eq__(self, other):
        return isinstance(other, Need) and other.fact == self.fact

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return "Need(%r)" % self.fact


def _missing(registry):
    return DocrError("Registry %r (option registry) does not exist." % registry)


def _result(action, reason=None):
    """What happened, in words a playbook can test: ``action`` and ``skipped`` (true only for a skip)."""
    return dict(action=action, skipped=action == "skipped", skip_reason=reason)


def predicted_gc(o):
    """The GC a start would create, as check mode shows it: everything the API has not said yet is None."""
    return dict(uuid=None, registry_name=o.registry, status="requested", type=o.type, blobs_deleted=None,
                freed_bytes=None, created_at=None, updated_at=None)


def undocumented_status(gc):
    status = (gc or {}).get("status")
    return None if gc is None or status in KNOWN_STATUSES else status


def _status_warning(gc):
    return ("Garbage collection %s reported the undocumented status %r; waiting on it as still running."
            % (gc.get("uuid"), gc.get("status")))


def min_interval_reason(last, now, o):
    """Why min_interval skips the run (the last succeeded GC finished within it), or None."""
    if o.min_interval is None or last is None:
        return None
    finished = parse_time(last.get("updated_at")) or parse_time(last.get("created_at"))
    if finished is None:
        return None
    age = now - finished
    if age >= o.min_interval:
        return None
    return "the last succeeded garbage collection (%s) finished %s ago, within min_interval %s" % (
        last.get("uuid"), ago(age), o.min_interval_text)


def quiet_period_reason(newest, now, o):
    """Why quiet_period skips the run (an image was pushed within it), or None."""
    if not o.quiet_period or newest is None:
        return None
    age = now - newest[0]
    if age >= o.quiet_period:
        return None
    return "repository %s was pushed %s ago (tags %s), within quiet_period %s" % (
        newest[1], ago(age), ", ".join(newest[2]) or "none", o.quiet_period_text)


def decide(facts, o):
    """The ``Plan`` for ``facts`` and options ``o``, or the ``Need`` of the next fact to read. Pure."""
    if facts.active is UNREAD:
        return Need("active")
    if o.state == "cancelled":
        return _decide_cancel(facts, o)
    if facts.active is not None:
        return _decide_active(facts.active, o)
    return _decide_start(facts, o)


def _decide_active(active, o):
    """A GC of the registry is active: fail, skip, or join it (wait for it), as ``if_active`` says."""
    what = "garbage collection %s (status %r)" % (active.get("uuid"), active.get("status"))
    if o.if_active == "fail":
        raise DocrError("A %s is already active on registry %s; not starting another (if_active=fail)." % (what, o.registry),
                        garbage_collection=active)
    warned = undocumented_status(active)
    warnings = [_status_warning(active)] if warned else []
    if o.if_active == "skip":
        return Plan(active, active, result=_result("skipped", "a %s is already active; only one can run per registry" % what),
                    warnings=warnings)
    return Plan(active, active, result=_result("joined"), warnings=warnings,
                follow=GcWait(o, joined=active, warned=[warned] if warned else []))


def _decide_start(facts, o):
    exists = None
    if o.min_interval is not None:
        if facts.history is UNREAD:
            return Need("history")
        if facts.history is None:
            raise _missing(o.registry)
        exists = True
        reason = min_interval_reason(last_succeeded(facts.history), facts.now, o)
        if reason:
            return Plan(None, None, result=_result("skipped", reason))
    if o.quiet_period:
        if facts.latest_push is UNREAD:
            return Need("latest_push")
        exists = True  # the pushes were read: a missing registry would have failed the read
        reason = quiet_period_reason(facts.latest_push, facts.now, o)
        if reason:
            return Plan(None, None, result=_result("skipped", reason))
    if o.check_mode and not exists:
        # In check mode no start answers "missing": ask the registry itself.
        if facts.registry_exists is UNREAD:
            return Need("registry_exists")
        if not facts.registry_exists:
            raise _missing(o.registry)
    start_gc = Write("start a garbage collection (%s) of registry %s" % (o.type, o.registry), start_or_moved, o.registry,
                     o.type, facts)
    return Plan(None, predicted_gc(o), [start_gc], result=_result("started"), follow=GcWait(o))


def _decide_cancel(facts, o):
    active = facts.active
    if active is None:
        if o.check_mode:
            if facts.registry_exists is UNREAD:
                return Need("registry_exists")
            if not facts.registry_exists:
                raise _missing(o.registry)
        return Plan(None, None, result=_result("none"))
    cancel_gc = Write("cancel garbage collection %s of registry %s" % (active.get("uuid"), o.registry), cancel_or_moved,
                      o.registry, active.get("uuid"), facts)
    return Plan(active, dict(active, status="cancelling"), [cancel_gc], result=_result("cancelled"), follow=GcCancelWait(o))


def plan(facts, o):
    """The ``Plan`` for ``facts`` (read by ``read``: every fact the planner needs is there)."""
    decision = decide(facts, o)
    if isinstance(decision, Need):
        raise DocrError("Internal error: the garbage-collection planner needs %r, which was not read." % decision.fact)
    return decision


READERS = dict(
    active=lambda api, o: get_active(api, o.registry),
    history=lambda api, o: list_gcs(api, o.registry, limit=200),
    latest_push=lambda api, o: latest_push(api, o.registry),
    registry_exists=lambda api, o: _registry.get_registry(api, o.registry) is not None,
)


def read(api, o):
    """The ``Facts`` the planner asks for, read in its order, nothing more (one call each, per page)."""
    facts = Facts()
    decision = decide(facts, o)
    while isinstance(decision, Need):
        value = READERS[decision.fact](api, o)
        facts = facts.having(now=api.now(), **{decision.fact: value})
        decision = decide(facts, o)
    return facts


def reported(plan_, after):
    """The GC the result reports: the one followed to its end (a joined GC ends without this run changing it),
    else the after-state."""
    follow = plan_.follow
    if follow is not None and getattr(follow, "seen", None) is not None:
        return follow.seen
    return after


# ---- writes that read back, and the long-running follow-ups --------------------------------------

def start_or_moved(api, registry, gc_type, facts):
    """Start a GC; a refused start with another GC found active raises ``StateMoved`` (the engine plans again)."""
    try:
        gc = start(api, registry, gc_type)
    except DocrError as exc:
        active = exc.details.get("active_gc")
        if active is None:
            raise
        raise StateMoved(exc.msg, facts.having(active=active))
    if gc is None:
        raise _missing(registry)
    if gc.get("type") is None:
        gc["type"] = gc_type
    return gc


def cancel_or_moved(api, registry, uuid, facts):
    """Cancel the GC ``uuid``; when it ended before the cancel, raises ``StateMoved`` (nothing is active)."""
    gc = cancel(api, registry, uuid)
    if gc is None:
        raise StateMoved("Garbage collection %s of registry %s ended before the cancel." % (uuid, registry),
                         facts.having(active=None))
    return gc


class _GcFollow(LongRunning):
    """Polls one GC by uuid (noting undocumented statuses once); every failure names it."""

    subject_key = "garbage_collection"

    def __init__(self, o, timeout, deadline=None, wait=True, max_delay=60.0, warned=()):
        super(_GcFollow, self).__init__(timeout, deadline=deadline, wait=wait, first_delay=o.poll_interval,
                                        max_delay=max_delay)
        self.registry = o.registry
        self.warned = set(warned)

    @property
    def what(self):
        return "garbage collection %s of registry %s" % ((self.seen or {}).get("uuid"), self.registry)

    def note(self, gc):
        status = undocumented_status(gc)
        if status is not None and status not in self.warned:
            self.warned.add(status)
            if self.warn is not None:
                self.warn(_status_warning(gc))

    def poll(self, api, last):
        current = get_by_uuid(api, self.registry, last["uuid"])
        if current is not None:
            if current.get("type") is None:
                current["type"] = last.get("type")  # the API's GC objects may not carry it
            self.note(current)
        return current

    def done(self, current):
        return is_terminal(current)


class GcWait(_GcFollow):
    """Follow the GC this run started (or, with ``joined``, the active one it joined) to its end.

    With a ``deadline`` no longer than ``wait_timeout``, a GC still running when it passes is cancelled (the
    cancel retried), and the run fails saying so; the registry is writable again. A started GC that ends
    other than ``succeeded`` fails the run; a joined one is reported (with a warning).
    """

    def __init__(self, o, joined=None, warned=()):
        super(GcWait, self).__init__(o, o.wait_timeout, deadline=o.deadline, wait=o.wait, warned=warned)
        self.joined = joined

    def subject(self, api, answers):
        gc = self.joined if self.joined is not None else super(GcWait, self).subject(api, answers)
        self.note(gc)
        return gc

    def on_timeout(self, last):
        return DocrError(
            "Timed out after wait_timeout=%s seconds waiting for %s (status %r). It is still running and the registry "
            "stays read-only until it finishes; set deadline to cancel it instead."
            % (_seconds(self.timeout), self.what, last.get("status")), garbage_collection=last)

    def on_deadline(self, api, last, answers):
        failed_polls = self.poll_error
        cancelled, error = self._cancel_retried(api, last)
        answers.append(cancelled)  # a cancel was sent: whatever came of it, this run wrote
        deadline = _seconds(self.deadline)
        if error is not None:
            raise DocrError(
                "%s did not finish within deadline=%s seconds (last status seen %r%s), and cancelling it failed after %d "
                "attempts: %s It may still be running, and the registry read-only: cancel it with state=cancelled."
                % (self.what, deadline, last.get("status"), ", then polling failed: %s" % failed_polls.msg if failed_polls else "",
                   CANCEL_ROUNDS, error.msg),
                garbage_collection=last, cancelled_by_deadline=False)
        if cancelled is None:
            # It ended between the last poll and the cancel: report how it ended, as if seen by the poll.
            ended = self._poll_once(api)
            if is_terminal(ended):
                return ended
        try:
            final = self.wait_until_done(api, CANCEL_WAIT, self.what + " to cancel", 10.0, tolerate=True)
        except WaitTimeout as exc:
            raise DocrError(
                "%s did not finish within deadline=%s seconds (status %r). It was cancelled, but after %s seconds it still had "
                "not stopped: the registry may still be read-only." % (self.what, deadline, last.get("status"), CANCEL_WAIT),
                garbage_collection=exc.last, cancelled_by_deadline=True)
        raise DocrError(
            "%s did not finish within deadline=%s seconds (it was at status %r%s), so it was cancelled and the registry "
            "left read-only mode (final status %r). Nothing more was deleted."
            % (self.what, deadline, last.get("status"), "; polling had failed: %s" % failed_polls.msg if failed_polls else "",
               final.get("status")),
            garbage_collection=final, cancelled_by_deadline=True)

    def _poll_once(self, api):
        try:
            current = self.poll(api, self.seen)
        except DocrApiError:
            return self.seen
        if current is not None:
            self.seen = current
        return self.seen

    def _cancel_retried(self, api, gc):
        """Cancel ``gc`` at the deadline, best effort: up to CANCEL_ROUNDS rounds of the client's retries.

        Returns ``(cancelled GC or None when it had already ended, None)`` or ``(None, the last error)``.
        """
        error = None
        for _round in range(CANCEL_ROUNDS):
            try:
                return cancel(api, self.registry, gc["uuid"]), None
            except DocrApiError as exc:
                error = exc
        return None, error

    def finished(self, final):
        if self.joined is not None:
            if self.wait and final.get("status") != "succeeded" and self.warn is not None:
                self.warn("The garbage collection this task waited on ended with status %r." % final.get("status"))
            return self.joined  # this run changed nothing: the GC it joined ended by itself
        if self.wait and final.get("status") != "succeeded":
            raise DocrError("Garbage collection %s of registry %s ended with status %r."
                            % (final.get("uuid"), self.registry, final.get("status")), garbage_collection=final)
        return final


class GcCancelWait(_GcFollow):
    """After a cancel: with ``wait``, follow the GC until it has stopped (the registry is writable again)."""

    def __init__(self, o):
        super(GcCancelWait, self).__init__(o, o.wait_timeout, wait=o.wait, max_delay=10.0)

    def on_timeout(self, last):
        return DocrError("Cancelled garbage collection %s, but it had not stopped after wait_timeout=%s seconds (status %r)."
                         % (last.get("uuid"), _seconds(self.timeout), last.get("status")), garbage_collection=last)


def _seconds(value):
    """``1800`` for 1800.0: a duration in seconds as the messages show it."""
    return int(value) if value is not None and float(value).is_integer() else value
