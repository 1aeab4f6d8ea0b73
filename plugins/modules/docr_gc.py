#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: docr_gc
short_description: Run, wait on, time-box or cancel garbage collection of a DigitalOcean container registry
version_added: 0.2.0
description:
  - Starts a garbage collection (GC) of one DigitalOcean Container Registry and, by default, waits for it
    to finish, reporting how many blobs it deleted and how many bytes it freed.
  - B(While a GC runs the registry is read-only) - pushes fail, first while write tokens expire (up to
    about 15 minutes), then while it scans manifests and deletes blobs. Keep GC out of busy hours with
    O(quiet_period), O(min_interval) and O(deadline); see the collection's GC guide (C(docs/gc.md)).
  - Never starts a second GC while one is active (the API allows one per registry); O(if_active) says what
    to do instead.
  - Cancels the active GC with O(state=cancelled).
  - Starting a GC is an action. Without O(min_interval), every run starts one, unless one is already
    active. With O(min_interval), a re-run soon after a successful GC changes nothing and writes nothing.
  - Times (O(deadline), O(wait_timeout), O(min_interval), O(quiet_period)) are measured on the API's clock
    (its C(Date) header), the clock the GC timestamps use.
author:
  - dockyard.docr maintainers (@dockyard)
options:
  registry:
    description:
      - Name of the registry.
    type: str
    required: true
    aliases: [name]
  state:
    description:
      - C(started) starts a GC (unless one is active, or O(min_interval) or O(quiet_period) says to skip).
      - C(cancelled) cancels the active GC, if there is one. With none active, nothing changes.
    type: str
    choices: [started, cancelled]
    default: started
  type:
    description:
      - What the GC removes, sent to the API as its type string.
      - C(untagged_manifests_and_unreferenced_blobs) deletes manifests that no tag points to, then every blob
        no manifest references. This is the one that frees storage after tags were deleted or overwritten.
      - C(untagged_manifests_only) deletes untagged manifests but keeps their blobs (frees little space).
      - C(unreferenced_blobs_only) deletes blobs that no manifest references (what is left after manifests were
        deleted one by one).
      - The module always sends the type, so the default frees untagged manifests and unreferenced blobs. The
        API's own default (no type sent, as C(doctl) does unless told otherwise) frees unreferenced blobs only.
    type: str
    choices: [untagged_manifests_and_unreferenced_blobs, untagged_manifests_only, unreferenced_blobs_only]
    default: untagged_manifests_and_unreferenced_blobs
  wait:
    description:
      - Wait until the GC reaches a final status (C(succeeded), C(failed) or C(cancelled)).
      - A status the API documentation does not list is reported (as a warning) and waited on.
      - With O(state=cancelled), wait until the cancelled GC has stopped and the registry is writable again.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait at most. When it passes (and O(deadline) does not apply) the module fails and
        the GC B(keeps running) and the registry stays read-only until it ends.
    type: int
    default: 1800
  poll_interval:
    description:
      - Seconds between the first two status checks while waiting; the interval then grows by half each time,
        up to 60 seconds (or this value, when larger).
      - A finite number above 0, at most 3600.
    type: float
    default: 5
  if_active:
    description:
      - What to do when a GC of this registry is already active (started by someone else, or an earlier run).
        A second one is never started.
      - C(wait) waits for that GC to finish and reports it (subject to O(wait_timeout) and O(deadline)).
      - C(skip) reports it and returns with RV(skipped=true) and C(changed=false).
      - C(fail) fails, naming the active GC.
      - Defaults to C(wait) when O(wait=true), else C(skip).
    type: str
    choices: [wait, skip, fail]
  deadline:
    description:
      - Seconds after which a GC this task waits on is B(cancelled) if it has not finished, so that the
        registry leaves read-only mode; the module then fails with a message saying so.
      - Use it to keep GC inside a maintenance window. It applies when it is not longer than O(wait_timeout);
        measured from when the task started waiting, on the API's clock (moving on between its answers).
      - The deadline holds whatever the API does - retries after 429s or errors are not started past it, and
        when it passes the GC is cancelled (the cancel itself retried) even if every status check failed. A single
        slow request can overrun it by up to O(http_timeout).
      - Every failure after this task started a GC returns that GC (RV(garbage_collection.uuid)) and C(changed=true).
      - Needs O(wait=true).
    type: int
  min_interval:
    description:
      - Skip (C(changed=false), RV(skipped=true)) when the last C(succeeded) GC of this registry finished less than
        this long ago. Makes scheduled runs idempotent.
      - A number followed by C(s), C(m), C(h), C(d) or C(w), such as C(7d) or C(12h); a plain number is seconds.
      - Costs one API call (the GC history).
    type: str
  quiet_period:
    description:
      - Skip (C(changed=false), RV(skipped=true)) when any image of the registry was pushed less than this many
        B(minutes) ago, that is while CI is busy pushing.
      - Reads each repository's latest manifest, one API call per 200 repositories.
    type: int
  history:
    description:
      - Also return the registry's last O(history) GCs (newest first) in RV(history). V(0) returns none.
    type: int
    default: 0
notes:
  - The registry is read-only during a GC. Pushes that start during it fail; plan GC when CI is quiet.
  - In check mode nothing is started or cancelled; the result says what would start, or why it would be skipped.
extends_documentation_fragment:
  - dockyard.docr.common
  - dockyard.docr.attributes
  - dockyard.docr.attributes.actions
seealso:
  - name: Garbage collection strategy (dockyard.docr guide)
    description: GC types, the read-only window, scheduling and reading the results.
    link: https://github.com/dockyard/docr/blob/main/docs/gc.md
  - module: dockyard.docr.docr_gc_info
  - module: dockyard.docr.docr_registry
  - name: DigitalOcean garbage collection documentation
    description: How DOCR garbage collection works.
    link: https://docs.digitalocean.com/products/container-registry/how-to/clean-up-container-registry/
"""

EXAMPLES = r"""
- name: Collect garbage now and wait for it (frees untagged manifests and their blobs)
  dockyard.docr.docr_gc:
    registry: acme
  register: gc

- name: Report what it freed
  ansible.builtin.debug:
    msg: "GC {{ gc.garbage_collection.status }}: {{ gc.garbage_collection.freed_bytes }} bytes freed"

- name: Nightly GC that is safe to schedule
  dockyard.docr.docr_gc:
    registry: acme
    min_interval: 7d        # at most once a week
    quiet_period: 30        # not while CI pushed in the last 30 minutes
    deadline: 3600          # cancel it if still running after an hour: the registry becomes writable again
    if_active: skip         # someone else's GC is running: leave it alone

- name: Start without waiting
  dockyard.docr.docr_gc:
    registry: acme
    wait: false

- name: Cancel the running GC
  dockyard.docr.docr_gc:
    registry: acme
    state: cancelled
"""

RETURN = r"""
garbage_collection:
  description:
    - The GC this task started, waited on, found active or cancelled; V(null) when there was none (nothing was
      active for O(state=cancelled), or the run was skipped by O(min_interval) or O(quiet_period)).
    - In check mode, the GC that would start (RV(garbage_collection.uuid) is V(null)).
  returned: always
  type: dict
  contains:
    uuid:
      description: GC identifier.
      type: str
      sample: eff0feee-49c7-4e8f-ba5c-a320c109c8a8
    registry_name:
      description: Registry name.
      type: str
      sample: acme
    status:
      description:
        - C(requested), C(waiting for write JWTs to expire), C(scanning manifests), C(deleting unreferenced blobs),
          C(cancelling), C(succeeded), C(failed) or C(cancelled) (or a status the documentation does not list).
      type: str
      sample: succeeded
    type:
      description: The GC type, in this module's spelling (V(null) when the API does not say).
      type: str
      sample: untagged_manifests_and_unreferenced_blobs
    blobs_deleted:
      description: Blobs deleted.
      type: int
      sample: 42
    freed_bytes:
      description: Bytes freed.
      type: int
      sample: 667
    created_at:
      description: When the GC was requested.
      type: str
      sample: "2026-11-22T07:36:58Z"
    updated_at:
      description: When its status last changed (for a finished GC, when it finished).
      type: str
      sample: "2026-11-22T07:39:03Z"
skipped:
  description: True when no GC was started or cancelled because of O(min_interval), O(quiet_period) or an active GC.
  returned: always
  type: bool
  sample: false
skip_reason:
  description: Why the run was skipped; V(null) when it was not.
  returned: always
  type: str
  sample: "the last succeeded garbage collection finished 2 days ago, within min_interval 7d"
history:
  description: The last O(history) GCs of the registry, newest first, each shaped like RV(garbage_collection).
  returned: when O(history) is above 0
  type: list
  elements: dict
cancelled_by_deadline:
  description:
    - V(true) when the run failed because the GC ran past O(deadline) and this task cancelled it. Only in that
      failure result, which also holds RV(garbage_collection) (the cancelled GC) and C(changed=true).
  returned: when O(deadline) cancelled the GC (the run fails)
  type: bool
  sample: true
"""

from ansible_collections.dockyard.docr.plugins.module_utils import _gc
from ansible_collections.dockyard.docr.plugins.module_utils import _registry as reg
from ansible_collections.dockyard.docr.plugins.module_utils._base import Resource, run_resource
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError, DocrError, DocrInputError
from ansible_collections.dockyard.docr.plugins.module_utils._time import ago, parse_duration, parse_time
from ansible_collections.dockyard.docr.plugins.module_utils._wait import WaitTimeout, wait_for

# How long to wait for a cancellation to land (the API moves cancelling -> cancelled within seconds).
CANCEL_WAIT = 300
# Rounds of the client's retries spent on the cancel at the deadline before giving up.
CANCEL_ROUNDS = 3


class GarbageCollection(Resource):
    argument_spec = dict(
        registry=dict(type="str", required=True, aliases=["name"]),
        state=dict(type="str", choices=["started", "cancelled"], default="started"),
        history=dict(type="int", default=0),
        **_gc.RUN_OPTIONS
    )

    def __init__(self, docr):
        super(GarbageCollection, self).__init__(docr)
        p = self.params
        self.name = p["registry"]
        problem = reg.check_name(self.name, "registry")
        if problem:
            raise DocrInputError(problem)
        problems = _gc.run_option_problems(p)
        if problems:
            raise DocrInputError(" ".join(problems))
        self.min_interval = parse_duration(p["min_interval"], "min_interval")
        self.if_active = p["if_active"] or ("wait" if p["wait"] else "skip")
        self._warned = set()
        self._started = False

    # ---- results -------------------------------------------------------------------------------
    def _result(self, gc, changed, before_active, after_active, skip_reason=None):
        result = dict(garbage_collection=gc, changed=changed, skipped=skip_reason is not None, skip_reason=skip_reason)
        if self.params["history"]:
            result["history"] = _gc.list_gcs(self.api, self.name, limit=self.params["history"]) or []
        if self.docr.diff_mode:
            result["diff"] = dict(before=dict(active_garbage_collection=_brief(before_active)),
                                  after=dict(active_garbage_collection=_brief(after_active)))
        return result

    def _predicted(self, status):
        return dict(uuid=None, registry_name=self.name, status=status, type=self.params["type"], blobs_deleted=None,
                    freed_bytes=None, created_at=None, updated_at=None)

    def _require_registry(self):
        if reg.get_registry(self.api, self.name) is None:
            raise DocrError("Registry %r (option registry) does not exist." % self.name)

    # ---- waiting -------------------------------------------------------------------------------
    def _note_status(self, gc):
        status = gc.get("status")
        if status not in _gc.KNOWN_STATUSES and status not in self._warned:
            self._warned.add(status)
            self.docr.warn("Garbage collection %s reported the undocumented status %r; waiting on it as still running."
                           % (gc.get("uuid"), status))

    def _poll(self, gc, tolerate_errors=False):
        """A poll function for ``wait_for``; it returns the last GC seen.

        With ``tolerate_errors``, a poll that fails (the client's retries spent, or cut short by the deadline)
        returns the last GC seen instead of raising, so the deadline, not the API's mood, ends the wait.
        """
        state = {"last": gc, "error": None}

        def poll():
            try:
                current = _gc.get_by_uuid(self.api, self.name, gc["uuid"])
            except DocrApiError as exc:
                if not tolerate_errors:
                    raise
                state["error"] = exc
                return state["last"]
            state["error"] = None
            if current is not None:
                if current.get("type") is None:
                    current["type"] = gc.get("type")  # the API's GC objects may not carry it
                state["last"] = current
                self._note_status(current)
            return state["last"]
        poll.state = state
        return poll

    def _wait(self, gc):
        """Wait for ``gc`` to finish; cancel it at the deadline. Returns the final GC or raises.

        Every time is measured on one clock, ``api.clock()`` (the API's clock, moving between answers), and
        the client does not start a retry that would end past the deadline. When the deadline passes the GC
        is cancelled, however the polling went (answers, errors or none).
        """
        self._note_status(gc)
        timeout = self.params["wait_timeout"]
        deadline = self.params["deadline"]
        by_deadline = deadline is not None and deadline <= timeout
        limit = deadline if by_deadline else timeout
        delay = self.params["poll_interval"]
        what = "garbage collection %s of registry %s" % (gc["uuid"], self.name)
        poll = self._poll(gc, tolerate_errors=by_deadline)
        clock = self.api.clock
        if by_deadline:
            self.api.retry_until = clock() + limit
        try:
            return wait_for(poll, _gc.is_terminal, limit, what, first_delay=delay, max_delay=max(delay, 60.0), clock=clock)
        except WaitTimeout as exc:
            last = exc.last or gc
        finally:
            self.api.retry_until = None
        if not by_deadline:
            raise DocrError(
                "Timed out after wait_timeout=%s seconds waiting for %s (status %r). It is still running and the registry "
                "stays read-only until it finishes; set deadline to cancel it instead." % (timeout, what, last.get("status")),
                garbage_collection=last, changed=self._started,
            )
        failed_polls = poll.state["error"]
        cancelled, error = self._cancel_retried(last)
        if error is not None:
            raise DocrError(
                "%s did not finish within deadline=%s seconds (last status seen %r%s), and cancelling it failed after %d "
                "attempts: %s It may still be running, and the registry read-only: cancel it with state=cancelled."
                % (what, deadline, last.get("status"), ", then polling failed: %s" % failed_polls.msg if failed_polls else "",
                   CANCEL_ROUNDS, error.msg),
                garbage_collection=last, changed=True, cancelled_by_deadline=False,
            )
        if cancelled is None:
            # It ended between the last poll and the cancel: report how it ended, as if seen by the poll.
            ended = self._poll(last, tolerate_errors=True)()
            if _gc.is_terminal(ended):
                return ended
        after_cancel = self._poll(last, tolerate_errors=True)
        try:
            final = wait_for(after_cancel, _gc.is_terminal, CANCEL_WAIT, what + " to cancel", first_delay=delay,
                             max_delay=max(delay, 10.0), clock=clock)
        except WaitTimeout as exc:
            raise DocrError(
                "%s did not finish within deadline=%s seconds (status %r). It was cancelled, but after %s seconds it still had "
                "not stopped: the registry may still be read-only." % (what, deadline, last.get("status"), CANCEL_WAIT),
                garbage_collection=exc.last, changed=True, cancelled_by_deadline=True,
            )
        raise DocrError(
            "%s did not finish within deadline=%s seconds (it was at status %r%s), so it was cancelled and the registry "
            "left read-only mode (final status %r). Nothing more was deleted."
            % (what, deadline, last.get("status"), "; polling had failed: %s" % failed_polls.msg if failed_polls else "",
               final.get("status")),
            garbage_collection=final, changed=True, cancelled_by_deadline=True,
        )

    def _cancel_retried(self, gc):
        """Cancel ``gc`` at the deadline, best effort: up to CANCEL_ROUNDS rounds of the client's retries.

        Returns ``(cancelled GC or None when it had already ended, None)`` or ``(None, the last error)``.
        """
        error = None
        for _round in range(CANCEL_ROUNDS):
            try:
                return _gc.cancel(self.api, self.name, gc["uuid"]), None
            except DocrApiError as exc:
                error = exc
        return None, error

    # ---- states --------------------------------------------------------------------------------
    def run(self):
        if self.params["state"] == "cancelled":
            return self._cancel()
        return self._start()

    def _cancel(self):
        active = _gc.get_active(self.api, self.name)
        if active is None:
            if self.check_mode:
                self._require_registry()
            return self._result(None, False, None, None)
        if self.check_mode:
            return self._result(dict(active, status="cancelling"), True, active, None)
        gc = _gc.cancel(self.api, self.name, active["uuid"])
        if gc is None:
            # It ended between the read and the cancel: nothing left to cancel.
            ended = self._poll(active)()
            return self._result(ended, False, active, None)
        if self.params["wait"]:
            try:
                gc = wait_for(self._poll(gc), _gc.is_terminal, self.params["wait_timeout"], "garbage collection %s to cancel" % gc["uuid"],
                              first_delay=self.params["poll_interval"], max_delay=max(self.params["poll_interval"], 10.0), clock=self.api.clock)
            except WaitTimeout as exc:
                raise DocrError(
                    "Cancelled garbage collection %s, but it had not stopped after wait_timeout=%s seconds (status %r)."
                    % (active["uuid"], self.params["wait_timeout"], (exc.last or gc).get("status")),
                    garbage_collection=exc.last or gc, changed=True,
                )
        return self._result(gc, True, active, None if _gc.is_terminal(gc) else gc)

    def _start(self):
        active = _gc.get_active(self.api, self.name)
        if active is not None:
            return self._already_active(active)
        return self._start_new()

    def _already_active(self, active):
        """Another GC of the registry is active: fail, skip, or wait for it, as if_active says."""
        self._note_status(active)
        what = "garbage collection %s (status %r)" % (active["uuid"], active["status"])
        if self.if_active == "fail":
            raise DocrError("A %s is already active on registry %s; not starting another (if_active=fail)." % (what, self.name),
                            garbage_collection=active)
        if self.if_active == "skip" or self.check_mode:
            reason = "a %s is already active; only one can run per registry" % what
            return self._result(active, False, active, active, skip_reason=reason)
        try:
            final = self._wait(active)
        except DocrError as exc:
            if not exc.details.get("garbage_collection"):
                exc.details["garbage_collection"] = active
            raise
        if final.get("status") != "succeeded":
            self.docr.warn("The garbage collection this task waited on ended with status %r." % final.get("status"))
        reason = "a %s was already active; waited for it instead of starting another" % what
        return self._result(final, False, active, None, skip_reason=reason)

    def _start_new(self):
        p = self.params
        if self.min_interval is not None:
            gcs = _gc.list_gcs(self.api, self.name, limit=200)
            if gcs is None:
                raise DocrError("Registry %r (option registry) does not exist." % self.name)
            last = _gc.last_succeeded(gcs)
            if last is not None:
                finished = parse_time(last.get("updated_at")) or parse_time(last.get("created_at"))
                age = self.api.now() - finished
                if age < self.min_interval:
                    reason = "the last succeeded garbage collection (%s) finished %s ago, within min_interval %s" % (
                        last["uuid"], ago(age), p["min_interval"])
                    return self._result(None, False, None, None, skip_reason=reason)

        if p["quiet_period"]:
            newest = _gc.latest_push(self.api, self.name)
            if newest is not None:
                age = self.api.now() - newest[0]
                if age < p["quiet_period"] * 60:
                    reason = "repository %s was pushed %s ago (tags %s), within quiet_period %s minutes" % (
                        newest[1], ago(age), ", ".join(newest[2]) or "none", p["quiet_period"])
                    return self._result(None, False, None, None, skip_reason=reason)

        if self.check_mode:
            self._require_registry()
            predicted = self._predicted("requested")
            return self._result(predicted, True, None, predicted)

        try:
            gc = _gc.start(self.api, self.name, p["type"])
        except DocrError as exc:
            # Refused, and a GC was found active on reading back (another run started one between the read
            # above and the start): it is not this run's, so treat it as found active.
            active = exc.details.pop("active_gc", None)
            if active is None:
                raise
            return self._already_active(active)
        if gc is None:
            raise DocrError("Registry %r (option registry) does not exist." % self.name)
        if gc.get("type") is None:
            gc["type"] = p["type"]
        self._started = True
        if not p["wait"]:
            return self._result(gc, True, None, gc)
        try:
            final = self._wait(gc)
        except DocrError as exc:
            # After a start, every failure says which GC it was, and that something changed.
            if not exc.details.get("garbage_collection"):
                exc.details["garbage_collection"] = gc
            exc.details["changed"] = True
            raise
        if final.get("status") != "succeeded":
            raise DocrError(
                "Garbage collection %s of registry %s ended with status %r." % (final.get("uuid"), self.name, final.get("status")),
                garbage_collection=final, changed=True,
            )
        return self._result(final, True, None, None)


def _brief(gc):
    if not gc:
        return None
    return dict(uuid=gc.get("uuid"), status=gc.get("status"), type=gc.get("type"))


def main():
    run_resource(GarbageCollection)


if __name__ == "__main__":
    main()
