# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: tag and manifest retention - the plan (pure), the pacer, the calls.

The plan is computed from listings alone, so check mode shows exactly what a real run deletes. Rules,
in order of precedence:

* a protected tag (``protect`` regexes) is always kept and never counted by ``keep_last``;
* a manifest referenced by a protected tag, or listed in ``protect_digests``, is never deleted, and
  (for ``target=tags``) none of its tags are deleted either, so GC can never collect it;
* the newest ``keep_last`` remaining items (by ``updated_at``) are kept;
* with ``older_than``, only items last updated longer ago than that are deleted.
"""

import fnmatch
import re
import time

from ansible_collections.dockyard.docr.plugins.module_utils._base import check_number
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError, DocrInputError
from ansible_collections.dockyard.docr.plugins.module_utils._time import format_time, parse_duration, parse_time
from ansible_collections.dockyard.docr.plugins.module_utils._registry import unless_registry_missing

TARGETS = ("tags", "manifests")
DEFAULT_PROTECT = ["^latest$"]
DEFAULT_MAX_DELETIONS = 100
# DigitalOcean allows 250 requests per minute per token; stay a little below it by default.
DEFAULT_REQUESTS_PER_MINUTE = 240
# When the hourly budget (ratelimit-remaining) falls to this, wait for ratelimit-reset.
HOURLY_RESERVE = 10
MAX_PACING_WAIT = 60.0
# Waiting until a request is exactly a minute old is not enough: the API stamps it on arrival, the pacer
# when the answer is back, and the two clocks round differently (HTTP dates are whole seconds).
PACING_MARGIN = 1.0
# The largest keep_last / max_deletions accepted (beyond it, a typo).
MAX_COUNT = 1000000
# While deleting, a repository's listing older than this (seconds) is read again before the next deletion.
RECHECK_SECONDS = 10.0

# The clock and the sleep a Pacer uses unless it is given its own (tests give both, from one simulated
# clock). A monotonic clock: the pacer measures durations, and the wall clock may jump.
clock = time.monotonic
sleep = time.sleep


# ---- input ---------------------------------------------------------------------------------------

def compile_protect(patterns, option="protect"):
    compiled = []
    for pattern in patterns or []:
        try:
            compiled.append(re.compile(pattern))
        except (re.error, OverflowError, RecursionError, ValueError, TypeError) as exc:
            # OverflowError: a repeat count too large ("a{99999999999}"); RecursionError: absurd nesting.
            raise DocrInputError("%s: %r is not a valid regular expression (%s)." % (option, pattern, exc))
    return compiled


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")


def check_digests(digests, option="protect_digests"):
    """``digests`` normalised (stripped, lower case); raises ``DocrInputError`` naming ``option`` on a malformed one."""
    result = []
    for digest in digests or []:
        value = digest.strip().lower() if isinstance(digest, str) else digest
        if not isinstance(value, str) or not _DIGEST.match(value):
            raise DocrInputError("%s: %r is not a manifest digest: use sha256: followed by 64 hexadecimal digits." % (option, digest))
        result.append(value)
    return result


def check_policy(keep_last, older_than, max_deletions):
    """Validate the policy options; return ``older_than`` in seconds (or None)."""
    if keep_last is None and older_than is None:
        raise DocrInputError(
            "Set keep_last, older_than or both: without either, retention would have no rule to decide what to keep."
        )
    check_number(keep_last, "keep_last", 0, MAX_COUNT, unit="items")
    check_number(max_deletions, "max_deletions", 0, MAX_COUNT, unit="deletions")
    if older_than is None:
        return None
    try:
        seconds = parse_duration(older_than, "older_than")
    except DocrError as exc:
        raise DocrInputError(exc.msg)
    if seconds <= 0:
        raise DocrInputError("older_than must be a positive duration such as 30d, got %r." % older_than)
    return seconds


# The options of one retention run, as docr_retention takes them: its argument spec is built from these,
# and gc_schedule validates each scheduled registry's retention with them (and run_option_problems).
RUN_OPTIONS = dict(
    target=dict(type="str", choices=list(TARGETS), default="tags"),
    keep_last=dict(type="int"),
    older_than=dict(type="str"),
    protect=dict(type="list", elements="str", default=[]),
    protect_latest=dict(type="bool", default=True),
    protect_digests=dict(type="list", elements="str", default=[]),
    repositories_include=dict(type="list", elements="str", default=[]),
    repositories_exclude=dict(type="list", elements="str", default=[]),
    max_deletions=dict(type="int", default=DEFAULT_MAX_DELETIONS),
    requests_per_minute=dict(type="int", default=DEFAULT_REQUESTS_PER_MINUTE),
)


def protect_patterns(p):
    """The compiled protection: ``latest`` (unless protect_latest is false) plus the user's ``protect``."""
    return compile_protect((list(DEFAULT_PROTECT) if p.get("protect_latest", True) else []) + list(p["protect"] or []))


def run_option_problems(p):
    """Every problem with the (type-checked) RUN_OPTIONS in ``p``, as messages naming the option."""
    problems = []
    for check in (lambda: check_policy(p["keep_last"], p["older_than"], p["max_deletions"]),
                  lambda: protect_patterns(p),
                  lambda: check_digests(p["protect_digests"])):
        try:
            check()
        except DocrError as exc:
            problems.append(exc.msg)
    if p["requests_per_minute"] < 0:
        problems.append("requests_per_minute must be 0 or more, got %s." % p["requests_per_minute"])
    return problems


def repository_selected(name, include, exclude):
    if include and not any(fnmatch.fnmatchcase(name, glob) for glob in include):
        return False
    return not any(fnmatch.fnmatchcase(name, glob) for glob in exclude or [])


# ---- the plan ------------------------------------------------------------------------------------

def _newest_first(items):
    return sorted(items, key=lambda item: (-(parse_time(item.get("updated_at")) or 0), item.get("tag") or item.get("digest") or ""))


def plan_tags(repository, tags, protect, protect_digests, keep_last, older_than, now):
    """Split one repository's tags into (delete, kept, protected_count, freed_bytes_estimate).

    ``tags`` are API tag objects (``tag``, ``manifest_digest``, ``updated_at``, ``size_bytes``).
    """
    protected_digests = set(protect_digests or [])
    protected_tags = set()
    for tag in tags:
        if any(rx.search(tag.get("tag") or "") for rx in protect):
            protected_tags.add(tag.get("tag"))
            protected_digests.add(tag.get("manifest_digest"))
    candidates = []
    protected = 0
    for tag in tags:
        if tag.get("tag") in protected_tags or tag.get("manifest_digest") in protected_digests:
            protected += 1
        else:
            candidates.append(tag)
    delete = []
    for index, tag in enumerate(_newest_first(candidates)):
        if keep_last is not None and index < keep_last:
            continue
        if older_than is not None:
            updated = parse_time(tag.get("updated_at"))
            if updated is None or now - updated < older_than:
                continue
        delete.append(tag)
    deleted_names = set(t.get("tag") for t in delete)
    # A manifest's space is freed (by the next GC) only when none of its tags is left.
    remaining_digests = set(t.get("manifest_digest") for t in tags if t.get("tag") not in deleted_names)
    freed = {}
    for tag in delete:
        digest = tag.get("manifest_digest")
        if digest not in remaining_digests:
            freed[digest] = tag.get("size_bytes") or 0
    items = [dict(repository=repository, tag=t.get("tag"), digest=t.get("manifest_digest"),
                  updated_at=t.get("updated_at"), size_bytes=t.get("size_bytes")) for t in delete]
    return items, len(tags) - len(delete), protected, sum(freed.values())


def plan_manifests(repository, manifests, protect, protect_digests, keep_last, older_than, now):
    """Split one repository's manifests into (delete, kept, protected_count, freed_bytes_estimate).

    Deleting a manifest deletes all its tags: a manifest with any protected tag is never deleted.
    """
    protected_digests = set(protect_digests or [])
    candidates = []
    protected = 0
    for manifest in manifests:
        tags = manifest.get("tags") or []
        if manifest.get("digest") in protected_digests or any(rx.search(t) for t in tags for rx in protect):
            protected += 1
        else:
            candidates.append(manifest)
    delete = []
    for index, manifest in enumerate(_newest_first(candidates)):
        if keep_last is not None and index < keep_last:
            continue
        if older_than is not None:
            updated = parse_time(manifest.get("updated_at"))
            if updated is None or now - updated < older_than:
                continue
        delete.append(manifest)
    items = [dict(repository=repository, tag=None, digest=m.get("digest"), tags=list(m.get("tags") or []),
                  updated_at=m.get("updated_at"), size_bytes=m.get("size_bytes")) for m in delete]
    return items, len(manifests) - len(delete), protected, sum((m.get("size_bytes") or 0) for m in delete)


# ---- pacing --------------------------------------------------------------------------------------

class Pacer(object):
    """Keeps one token under the per-minute limit, and waits for the hourly reset when it runs low.

    ``tick()`` is called before each request and only waits: until the request ``per_minute`` places
    back is more than a minute (plus ``PACING_MARGIN``) old, and for ``ratelimit-reset`` when
    ``api.rate_limit`` says fewer than ``HOURLY_RESERVE`` requests remain. ``note(count)`` is called
    when the answer is back and records the requests just made (retries included). Stamping after the
    answer, never before the send, keeps every stamp later than the API's own (taken on arrival), so a
    request that travels faster than an earlier one cannot land inside that one's minute.

    ``clock`` and ``sleep`` default to the module's ``clock`` and ``sleep`` (read when the pacer is made).
    """

    def __init__(self, api, per_minute, clock=None, sleep=None):
        self.api = api
        self.per_minute = per_minute
        self.clock = clock or globals()["clock"]
        self.sleep = sleep or globals()["sleep"]
        self.sent = []
        self.waited = 0.0
        self.waits = 0

    def _wait(self, seconds, cap=None):
        seconds = max(0.0, seconds if cap is None else min(cap, seconds))
        if seconds > 0:
            self.waits += 1
            self.waited += seconds
            self.sleep(seconds)

    def note(self, count=1):
        """Record ``count`` requests whose answers just came back."""
        if count > 0:
            now = self.clock()
            self.sent.extend([now] * count)

    def tick(self):
        """Wait, if needed, before the next request. Call ``note`` once its answer is back."""
        if self.per_minute:
            now = self.clock()
            self.sent = [t for t in self.sent if t > now - 60 - PACING_MARGIN]
            if len(self.sent) >= self.per_minute:
                # at most a minute and the margin, by construction
                self._wait(self.sent[len(self.sent) - self.per_minute] + 60 + PACING_MARGIN - now)
        remaining = (self.api.rate_limit or {}).get("remaining")
        reset = (self.api.rate_limit or {}).get("reset")
        if remaining is not None and remaining <= HOURLY_RESERVE and reset:
            # capped: the next answer's headers tell again, and the client retries a 429 itself
            self._wait(reset - self.api.now(), cap=MAX_PACING_WAIT)


# ---- calls ---------------------------------------------------------------------------------------

def list_repositories(api, registry):
    repos = unless_registry_missing(api, registry, lambda: api.paginate("registries.list_repositories_v2", "repositories", registry))
    if repos is None:
        raise DocrError("Registry %r (option registry) was not found." % registry)
    return repos


def list_tags(api, registry, repository):
    return api.paginate("registries.list_repository_tags", "tags", registry, repository)


def list_manifests(api, registry, repository):
    return api.paginate("registries.list_repository_manifests", "manifests", registry, repository)


def delete_item(api, registry, item):
    """Delete one planned tag or manifest. A 404 means it is already gone (an earlier, interrupted run)."""
    if item.get("tag") is not None:
        api.call("registries.delete_repository_tag", registry, item["repository"], item["tag"])
    else:
        api.call("registries.delete_repository_manifest", registry, item["repository"], item["digest"])


def changed_since_plan(item, fresh):
    """Why a planned deletion must be skipped given a fresh listing of its repository, or None to go ahead.

    ``fresh`` is the repository's current tags (``target=tags``) or manifests. A tag that now points to
    another manifest was pushed again after the plan; a manifest that now carries a tag the plan did not
    see gained one. Either is someone else's new image: never deleted on an old plan.
    """
    if item.get("tag") is not None:
        current = [t for t in fresh if t.get("tag") == item["tag"]]
        if not current:
            return "gone", None
        if current[0].get("manifest_digest") != item.get("digest"):
            return "moved", current[0].get("manifest_digest")
        return None, None
    current = [m for m in fresh if m.get("digest") == item.get("digest")]
    if not current:
        return "gone", None
    if set(current[0].get("tags") or []) - set(item.get("tags") or []):
        return "tagged", item.get("digest")
    return None, None


def still_present(item, fresh):
    """True when the item a failed deletion was about is still in ``fresh`` (read back after a lost answer)."""
    if item.get("tag") is not None:
        return any(t.get("tag") == item["tag"] and t.get("manifest_digest") == item.get("digest") for t in fresh)
    return any(m.get("digest") == item.get("digest") for m in fresh)


def now_iso(api):
    return format_time(api.now())
