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
      - How long to wait at most. When it passes (and O(deadline) does not apply) the module fails and
        the GC B(keeps running) and the registry stays read-only until it ends.
      - A duration - a number of seconds, or a number followed by C(s), C(m), C(h), C(d) or C(w), such as C(30m)
        or C(2h). Above 0.
    type: raw
    default: 1800
  poll_interval:
    description:
      - Time between the first two status checks while waiting; the interval then grows by half each time,
        up to 60 seconds (or this value, when larger).
      - A duration - a number of seconds (fractions allowed), or a number followed by C(s), C(m) or C(h), such
        as C(10s). Above 0, at most one hour.
    type: raw
    default: 5
  if_active:
    description:
      - What to do when a GC of this registry is already active (started by someone else, or an earlier run).
        A second one is never started.
      - C(wait) joins it - waits for that GC to finish and reports it (subject to O(wait_timeout) and O(deadline)),
        with RV(action=joined), RV(skipped=false) and C(changed=false).
      - C(skip) reports it and returns with RV(action=skipped), RV(skipped=true) and C(changed=false).
      - C(fail) fails, naming the active GC.
      - Defaults to C(wait) when O(wait=true), else C(skip).
    type: str
    choices: [wait, skip, fail]
  deadline:
    description:
      - How long after which a GC this task waits on is B(cancelled) if it has not finished, so that the
        registry leaves read-only mode; the module then fails with a message saying so.
      - A duration - a number of seconds, or a number followed by C(s), C(m), C(h), C(d) or C(w), such as C(1h).
        Above 0.
      - Use it to keep GC inside a maintenance window. It applies when it is not longer than O(wait_timeout);
        measured from when the task started waiting, on the API's clock (moving on between its answers).
      - The deadline holds whatever the API does - retries after 429s or errors are not started past it, and
        when it passes the GC is cancelled (the cancel itself retried) even if every status check failed. A single
        slow request can overrun it by up to O(http_timeout).
      - Every failure after this task started a GC returns that GC (RV(garbage_collection.uuid)) and C(changed=true).
      - Needs O(wait=true).
    type: raw
  min_interval:
    description:
      - Skip (C(changed=false), RV(skipped=true)) when the last C(succeeded) GC of this registry finished less than
        this long ago. Makes scheduled runs idempotent.
      - A duration - a number followed by C(s), C(m), C(h), C(d) or C(w), such as C(7d) or C(12h); a plain number
        is seconds.
      - Costs one API call (the GC history).
    type: raw
  quiet_period:
    description:
      - Skip (C(changed=false), RV(skipped=true)) when any image of the registry was pushed less than this long
        ago, that is while CI is busy pushing.
      - A duration - a number followed by C(s), C(m), C(h), C(d) or C(w), such as C(30m) or C(2h); a plain number
        is B(minutes) (as before durations took units). V(0) turns the check off.
      - Reads each repository's latest manifest, one API call per 200 repositories.
    type: raw
  history:
    description:
      - Also return the registry's last O(history) GCs (newest first) in RV(history). V(0) returns none.
    type: int
    default: 0
notes:
  - The registry is read-only during a GC. Pushes that start during it fail; plan GC when CI is quiet.
  - In check mode nothing is started or cancelled; the result says what would start (and, with C(--diff), shows
    the predicted GC), what it would join or cancel, or why it would be skipped.
extends_documentation_fragment:
  - dockyard.docr.registry
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
    quiet_period: 30m       # not while CI pushed in the last 30 minutes
    deadline: 1h            # cancel it if still running after an hour: the registry becomes writable again
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
    - The GC this task started, joined (waited on), found active or cancelled; V(null) when there was none
      (nothing was active for O(state=cancelled), or the run was skipped by O(min_interval) or O(quiet_period)).
    - In check mode, the GC that would start (RV(garbage_collection.uuid) is V(null)).
    - With C(--diff), the diff shows the GC as it was before the task (the active one, or none) and as the task
      left it (the GC it started, the one it cancelled), also in check mode (the predicted GC).
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
action:
  description:
    - What the task did (in check mode, what it would do).
    - C(started) - it started a GC (and, with O(wait=true), waited for it).
    - C(joined) - a GC was already active and the task waited for it (O(if_active=wait)) instead of starting one;
      C(changed=false), since this task changed nothing.
    - C(skipped) - it started nothing, because of O(min_interval), O(quiet_period) or an active GC with
      O(if_active=skip); RV(skip_reason) says why.
    - C(cancelled) - it cancelled the active GC (O(state=cancelled)).
    - C(none) - O(state=cancelled) found no active GC.
  returned: always
  type: str
  choices: [started, joined, skipped, cancelled, none]
  sample: started
skipped:
  description:
    - True only when RV(action=skipped) - nothing was started or joined, because of O(min_interval), O(quiet_period)
      or an active GC with O(if_active=skip). Ansible then shows the task as skipped.
    - A task that joined an active GC (and waited for it) is not skipped.
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
from ansible_collections.dockyard.docr.plugins.module_utils._base import PlannedResource, run_resource
from ansible_collections.dockyard.docr.plugins.module_utils._registry import REGISTRY_OPTION


class GarbageCollection(PlannedResource):
    """Read what the GC planner asks for, let it decide (start, skip, join, cancel), follow the GC it starts."""

    argument_spec = dict(
        registry=REGISTRY_OPTION,
        state=dict(type="str", choices=["started", "cancelled"], default="started"),
        history=dict(type="int", default=0),
        **_gc.RUN_OPTIONS
    )

    def __init__(self, docr):
        super(GarbageCollection, self).__init__(docr)
        self.options = _gc.Options.from_params(self.params, check_mode=self.check_mode)

    def read(self):
        return _gc.read(self.api, self.options)

    def plan(self, current):
        plan = _gc.plan(current, self.options)
        if plan.follow is not None:
            plan.follow.warn = self.docr.warn
        return plan

    def finish(self, plan, after):
        result = super(GarbageCollection, self).finish(plan, after)
        result["garbage_collection"] = _gc.reported(plan, after)
        if self.options.history:
            result["history"] = _gc.list_gcs(self.api, self.options.registry, limit=self.options.history) or []
        return result


def main():
    run_resource(GarbageCollection)


if __name__ == "__main__":
    main()
