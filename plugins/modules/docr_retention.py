#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: docr_retention
short_description: Delete old tags or manifests of a DigitalOcean container registry by policy
version_added: 0.2.0
description:
  - Applies a retention policy to the repositories of one DigitalOcean Container Registry, which has none of
    its own. Deletes the tags (or manifests) the policy does not keep, and reports what it deleted and how
    many bytes the next garbage collection should free.
  - The policy is O(keep_last) (keep the newest N by update time), O(older_than) (delete only what is older),
    or both (delete only what is beyond the newest N B(and) older). Protected tags (O(protect)) are always
    kept and are not counted by O(keep_last).
  - A manifest referenced by a protected tag, or listed in O(protect_digests), is B(never deleted); with
    O(target=tags) none of its tags are deleted either, so garbage collection cannot collect it.
  - Deleting tags frees no storage by itself; run M(dockyard.docr.docr_gc) afterwards (the
    C(dockyard.docr.gc_schedule) role does both).
  - A plan larger than O(max_deletions) fails before deleting anything and shows the plan.
  - Right before deleting, each repository's tags (or manifests) are listed again (and again every few seconds
    while deleting). A tag that moved to another manifest since the plan (pushed again by another job), or a
    manifest that gained a tag, is skipped and reported in RV(skipped_changed), never deleted.
  - Paces itself under the API rate limit (O(requests_per_minute), and the hourly C(ratelimit-remaining)
    header); 429 answers are retried. An interrupted run, run again, finishes the job (the plan is
    recomputed from the current listings; what is already gone is skipped).
author:
  - dockyard.docr maintainers (@dockyard)
options:
  target:
    description:
      - C(tags) deletes tags; the manifests they pointed to become untagged and the next garbage collection
        removes them (unless another tag still points to them).
      - C(manifests) deletes manifests by digest, with all their tags. Untagged manifests are candidates too.
    type: str
    choices: [tags, manifests]
    default: tags
  keep_last:
    description:
      - Keep the newest N tags (or manifests) of each repository, by update time, not counting protected ones.
      - V(0) keeps none beyond the protected ones (combine with O(older_than)).
    type: int
  older_than:
    description:
      - Delete only tags (or manifests) last updated longer ago than this, on the API's clock.
      - A duration, in the same forms as every duration of this collection - a number followed by C(s), C(m),
        C(h), C(d) or C(w), such as V(30d) or V(12h), or a plain number (or a number in a string) of seconds.
    type: raw
  protect:
    description:
      - Regular expressions (searched, so anchor them) of tags that are always kept, with the manifests they
        point to.
      - Added to the protection of C(latest) (see O(protect_latest)), never instead of it.
      - Must be a list; a string is refused (it would be split on commas, breaking patterns such as C(^v[0-9]{1,3}$)).
    type: list
    elements: str
    default: []
  protect_latest:
    description:
      - Always keep the tag C(latest) (and the manifest it points to). Set V(false) to let the policy delete it.
    type: bool
    default: true
    version_added: 0.2.0
  protect_digests:
    description:
      - Manifest digests that must never be deleted or left untagged, such as the images running in your
        clusters.
      - Each is C(sha256:) followed by 64 hexadecimal digits; surrounding spaces and upper case are normalised,
        anything else is refused. A digest found in none of the selected repositories gives a warning.
    type: list
    elements: str
    default: []
  repositories_include:
    description:
      - Shell-style globs (C(*), C(?), C([...])) of repository names to apply the policy to. Empty means all.
    type: list
    elements: str
    default: []
  repositories_exclude:
    description:
      - Globs of repository names to leave alone, applied after O(repositories_include).
    type: list
    elements: str
    default: []
  max_deletions:
    description:
      - Fail, before deleting anything, when the plan holds more than this many deletions (the failure shows
        the plan). Raise it deliberately for a first clean-up.
    type: int
    default: 100
  requests_per_minute:
    description:
      - Send at most this many API requests per minute (DigitalOcean allows 250 per token and minute, shared by
        everything using the token). V(0) disables this pacing (429 answers are still retried).
    type: int
    default: 240
notes:
  - In check mode nothing is deleted; RV(deleted) lists exactly what would be, and RV(freed_bytes_estimate) what it
    would free. With C(--diff), the diff shows the tags (or manifests) of each affected repository before and after.
  - API calls - one per 200 repositories, one per 200 tags (or manifests) of each selected repository, the same again
    for each repository with deletions (the re-check right before deleting, repeated every 10 seconds while deleting),
    and one per deletion. A second run with nothing left to delete makes no write.
extends_documentation_fragment:
  - dockyard.docr.registry
  - dockyard.docr.common
  - dockyard.docr.attributes
  - dockyard.docr.attributes.actions
seealso:
  - module: dockyard.docr.docr_gc
  - module: dockyard.docr.docr_registry_info
"""

EXAMPLES = r"""
- name: Keep the 10 newest tags of every repository, and anything pushed in the last 30 days
  dockyard.docr.docr_retention:
    registry: acme
    keep_last: 10
    older_than: 30d
  register: retention

- name: Then collect the untagged manifests
  dockyard.docr.docr_gc:
    registry: acme
  when: retention.deleted | length > 0

- name: Protect releases and the images running in the clusters; preview first
  dockyard.docr.docr_retention:
    registry: acme
    keep_last: 5
    protect: ['^latest$', '^v\d+\.\d+\.\d+$']
    protect_digests: "{{ running_digests }}"
    repositories_exclude: ['base/*']
  check_mode: true
  diff: true

- name: First clean-up of a registry that never had one
  dockyard.docr.docr_retention:
    registry: acme
    older_than: 90d
    target: manifests
    max_deletions: 2000
"""

RETURN = r"""
deleted:
  description:
    - What was deleted (in check mode, what would be), oldest first within each repository.
    - When the run fails part-way, the failure result holds what was deleted before it failed; a deletion whose
      answer was lost is read back and listed when it took effect (the failure's C(unknown) holds any that could not
        be read back).
  returned: always
  type: list
  elements: dict
  contains:
    repository:
      description: Repository name.
      type: str
      sample: web
    tag:
      description: The deleted tag; V(null) with O(target=manifests).
      type: str
      sample: build-1041
    digest:
      description: The manifest the tag pointed to, or the deleted manifest.
      type: str
      sample: "sha256:cb8a924afdf0229ef7515d9e5b3024e23b3eb03ddbba287f4a19c6ac90b8d221"
    tags:
      description: With O(target=manifests), the tags deleted with the manifest.
      type: list
      elements: str
      returned: with O(target=manifests)
    updated_at:
      description: When the tag (or manifest) was last updated.
      type: str
      sample: "2026-09-01T10:00:00Z"
    size_bytes:
      description: Size of the manifest.
      type: int
      sample: 5861888
kept:
  description: Counts of what was kept.
  returned: always
  type: dict
  contains:
    total:
      description: Tags (or manifests) kept in the selected repositories, protected ones included.
      type: int
      sample: 42
    protected:
      description: Tags (or manifests) kept because they are protected.
      type: int
      sample: 7
    repositories:
      description: Repositories the policy was applied to.
      type: int
      sample: 3
freed_bytes_estimate:
  description:
    - Bytes the next garbage collection should free - the size of each manifest left with no tag (or deleted).
      Blobs shared with kept manifests are counted, so the real figure can be lower.
  returned: always
  type: int
  sample: 123456789
repositories_skipped:
  description: Repositories left alone by O(repositories_include) and O(repositories_exclude).
  returned: always
  type: list
  elements: str
  sample: [base/debian]
skipped_changed:
  description:
    - Planned deletions skipped because the item changed after the plan - the tag now points to another manifest
      (its C(current_digest)), the manifest gained tags (C(reason=tagged)), or it was already gone (C(reason=gone)).
  returned: always
  type: list
  elements: dict
  sample: [{repository: web, tag: build-7, digest: "sha256:cb8a...", current_digest: "sha256:91fe...", reason: moved}]
pacing:
  description: How the run paced itself - requests sent, waits made and seconds waited.
  returned: always
  type: dict
  sample: {requests: 12, waits: 0, waited_seconds: 0}
plan:
  description:
    - When the plan deletes more than O(max_deletions), the run fails before deleting anything and returns the plan,
      each item shaped like an element of RV(deleted) (which is then empty).
  returned: when the plan is larger than O(max_deletions) (the run fails)
  type: list
  elements: dict
remaining:
  description: When a deletion fails part-way, how many planned deletions were not done (RV(deleted) holds the done ones).
  returned: when a deletion fails (the run fails)
  type: int
  sample: 12
unknown:
  description:
    - When a deletion fails and reading the repository back fails too, the item whose fate is unknown (run
      again to finish; the next run's plan shows whether it is still there).
  returned: when a deletion fails (the run fails)
  type: list
  elements: dict
"""

from ansible_collections.dockyard.docr.plugins.module_utils import _registry as reg
from ansible_collections.dockyard.docr.plugins.module_utils import _retention as ret
from ansible_collections.dockyard.docr.plugins.module_utils._base import PlannedResource, run_resource


class Retention(PlannedResource):
    argument_spec = dict(
        registry=dict(reg.REGISTRY_OPTION),
        **ret.RUN_OPTIONS
    )

    def __init__(self, docr):
        super(Retention, self).__init__(docr)
        reg.require_name(self.params["registry"], "registry")
        self.policy = ret.policy_from_params(self.params)

    def read(self):
        """The registry's repositories and the listing of each selected one, every request at the run's pace."""
        policy = self.policy
        names = [repo.get("name") for repo in ret.list_repositories(self.api, policy["registry"], pace=policy["pace"])]
        now = self.api.now()
        lister = ret.list_tags if policy["target"] == "tags" else ret.list_manifests
        listings = dict((name, lister(self.api, policy["registry"], name, pace=policy["pace"])) for name in sorted(names)
                        if ret.repository_selected(name, policy["include"], policy["exclude"]))
        return dict(now=now, repositories=names, listings=listings, pacing=self._pacing())

    def plan(self, current):
        return ret.plan(current, self.policy)

    def settle(self, plan, answers):
        return ret.settle(plan, answers)

    def finish(self, plan, after):
        result = super(Retention, self).finish(plan, after)
        result["pacing"] = self._pacing()
        return result

    def _pacing(self):
        return self.api.limiter.report(self.api.calls)


def main(**timing):
    run_resource(Retention, **timing)


if __name__ == "__main__":
    main()
