# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: tag and manifest retention - the plan (pure), the deletions, the calls.

The plan (``plan``) is computed from listings alone, so check mode shows exactly what a real run deletes.
Every request of a run keeps to the run's pace (``requests_per_minute``) through the client's one rate
limiter (``_client.RateLimiter``). Rules, in order of precedence:

* a protected tag (``protect`` regexes) is always kept and never counted by ``keep_last``;
* a manifest referenced by a protected tag, or listed in ``protect_digests``, is never deleted, and
  (for ``target=tags``) none of its tags are deleted either, so GC can never collect it;
* the newest ``keep_last`` remaining items (by ``updated_at``) are kept;
* with ``older_than``, only items last updated longer ago than that are deleted.
"""

import fnmatch
import re

from ansible_collections.dockyard.docr.plugins.module_utils._base import Plan, Write, check_number
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError, DocrInputError
from ansible_collections.dockyard.docr.plugins.module_utils._time import format_time, parse_duration, parse_time
from ansible_collections.dockyard.docr.plugins.module_utils._registry import unless_registry_missing

TARGETS = ("tags", "manifests")
DEFAULT_PROTECT = ["^latest$"]
DEFAULT_MAX_DELETIONS = 100
# DigitalOcean allows 250 requests per minute per token; stay a little below it by default.
DEFAULT_REQUESTS_PER_MINUTE = 240
# The largest keep_last / max_deletions accepted (beyond it, a typo).
MAX_COUNT = 1000000
# While deleting, a repository's listing older than this (seconds) is read again before the next deletion.
RECHECK_SECONDS = 10.0


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
    seconds = parse_duration(older_than, "older_than")
    if seconds <= 0:
        raise DocrInputError("older_than must be a positive duration such as 30d, got %r." % older_than)
    return seconds


# The options of one retention run, as docr_retention takes them: its argument spec is built from these,
# and gc_schedule validates each scheduled registry's retention with them (and run_option_problems).
RUN_OPTIONS = dict(
    target=dict(type="str", choices=list(TARGETS), default="tags"),
    keep_last=dict(type="int"),
    older_than=dict(type="raw"),
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


def policy_from_params(p):
    """The validated policy of a run from the module's options (raises ``DocrInputError`` naming the option)."""
    problems = run_option_problems(p)
    if problems:
        raise DocrInputError(" ".join(problems))
    return dict(
        registry=p["registry"],
        target=p["target"],
        keep_last=p["keep_last"],
        older_than=check_policy(p["keep_last"], p["older_than"], p["max_deletions"]),
        protect=protect_patterns(p),
        protect_digests=check_digests(p["protect_digests"]),
        include=list(p["repositories_include"] or []),
        exclude=list(p["repositories_exclude"] or []),
        max_deletions=p["max_deletions"],
        pace=p["requests_per_minute"] or None,
    )


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


# ---- the whole run's plan (pure) ---------------------------------------------------------------

def label(item):
    """The name of a planned deletion in its repository: the tag, or the manifest's digest."""
    return item["tag"] if item.get("tag") is not None else item["digest"]


def without(state, deleted):
    """``state`` ({repository: sorted labels}) minus the ``deleted`` items."""
    gone = {}
    for item in deleted:
        gone.setdefault(item["repository"], set()).add(label(item))
    return dict((name, [x for x in labels if x not in gone.get(name, ())]) for name, labels in state.items())


def plan(current, policy):
    """The ``Plan`` of a retention run, from what ``read`` found; pure.

    ``current``: ``now`` (the API's clock), ``repositories`` (every repository name of the registry),
    ``listings`` ({selected repository: its tags or manifests}) and ``pacing`` (for a failure's details).
    ``before`` is the tags (or manifests) of each repository the plan deletes from, ``after`` the same minus
    the deletions, and the writes are the deletions, oldest first within each repository, each re-checked
    against a fresh listing right before it is sent (``Deletions``). Fails, writing nothing, when the plan
    holds more than ``max_deletions``.
    """
    tags = policy["target"] == "tags"
    deletions, before, skipped, warnings = [], {}, [], []
    kept = dict(total=0, protected=0, repositories=0)
    freed = 0
    seen_digests = set()
    for name in sorted(current["repositories"]):
        if not repository_selected(name, policy["include"], policy["exclude"]):
            skipped.append(name)
            continue
        kept["repositories"] += 1
        items = current["listings"][name]
        planner = plan_tags if tags else plan_manifests
        delete, n_kept, n_protected, n_freed = planner(
            name, items, policy["protect"], policy["protect_digests"], policy["keep_last"], policy["older_than"], current["now"])
        seen_digests.update(i.get("manifest_digest") if tags else i.get("digest") for i in items)
        kept["total"] += n_kept
        kept["protected"] += n_protected
        freed += n_freed
        if delete:
            delete.reverse()  # oldest first: an interrupted run has removed the oldest
            before[name] = sorted(i.get("tag") if tags else i.get("digest") for i in items)
            deletions.extend(delete)
    unknown = [d for d in policy["protect_digests"] if d not in seen_digests]
    if unknown:
        warnings.append("protect_digests: %s found in none of the selected repositories of registry %s; check the "
                        "digests (they protect nothing here)." % (", ".join(unknown), policy["registry"]))
    if len(deletions) > policy["max_deletions"]:
        raise DocrError(
            "The retention plan for registry %s deletes %d %s, more than max_deletions (%d). Nothing was deleted. "
            "Check the plan (in 'plan'), then raise max_deletions or tighten the policy."
            % (policy["registry"], len(deletions), policy["target"], policy["max_deletions"]),
            plan=deletions, kept=kept, freed_bytes_estimate=freed, deleted=[], repositories_skipped=skipped,
            skipped_changed=[], pacing=current.get("pacing"),
        )
    run = Deletions(policy["registry"], policy["target"], policy["pace"], len(deletions), kept)
    writes = [Write("delete %s %s:%s" % ("tag" if tags else "manifest", item["repository"], label(item)), run.delete, item)
              for item in deletions]
    result = dict(deleted=deletions, kept=kept, freed_bytes_estimate=freed, repositories_skipped=skipped, skipped_changed=[])
    return Plan(before, without(before, deletions), writes, result=result, warnings=warnings)


def settle(plan_, answers):
    """The after-state from the deletions' answers (``Deletions.delete``); sets ``deleted`` and ``skipped_changed``."""
    deleted = [answer["item"] for answer in answers if answer["deleted"]]
    plan_.result["deleted"] = deleted
    plan_.result["skipped_changed"] = [answer["item"] for answer in answers if not answer["deleted"]]
    return without(plan_.before, deleted)


class Deletions(object):
    """The deletions of one run, in plan order: each re-checked right before it is sent.

    Before each deletion, the item's repository is listed again when its listing is older than
    ``RECHECK_SECONDS`` (so always before a repository's first deletion); an item that changed since the
    plan (``changed_since_plan``) is skipped and reported, never deleted. A failed deletion is read back
    (its answer may be lost while it took effect) and the run stops with what it did.
    """

    def __init__(self, registry, target, pace, planned, kept):
        self.registry = registry
        self.target = target
        self.pace = pace
        self.planned = planned
        self.kept = kept
        self.done = []
        self.skipped = []
        self._listings = {}  # repository -> (when, its tags or manifests), the latest listing

    def _list(self, api, repository):
        lister = list_tags if self.target == "tags" else list_manifests
        return lister(api, self.registry, repository, pace=self.pace)

    def _fresh(self, api, repository):
        """The repository's current listing, read again when older than RECHECK_SECONDS (on the API's clock)."""
        entry = self._listings.get(repository)
        if entry is None or api.clock() - entry[0] > RECHECK_SECONDS:
            items = self._list(api, repository)
            entry = self._listings[repository] = (api.clock(), items)
        return entry[1]

    def delete(self, api, item):
        """Delete ``item`` unless it changed since the plan; answer ``{"deleted": bool, "item": ...}``."""
        reason, current = changed_since_plan(item, self._fresh(api, item["repository"]))
        if reason is not None:
            skipped = dict(item, reason=reason, current_digest=current)
            self.skipped.append(skipped)
            return dict(deleted=False, item=skipped)
        try:
            delete_item(api, self.registry, item, pace=self.pace)
        except DocrError as exc:
            unknown = []
            # The answer may be lost while the deletion took effect: read it back before reporting.
            try:
                if not still_present(item, self._list(api, item["repository"])):
                    self.done.append(item)
            except DocrError:
                unknown.append(item)
            details = dict(exc.details)
            details.update(changed=bool(self.done), deleted=list(self.done),
                           remaining=self.planned - len(self.done) - len(self.skipped), kept=self.kept,
                           skipped_changed=list(self.skipped), unknown=unknown)
            raise DocrError(
                "Retention of registry %s stopped after %d of %d deletions: %s Run it again to finish."
                % (self.registry, len(self.done), self.planned, exc.msg), **details)
        self.done.append(item)
        return dict(deleted=True, item=item)


# ---- calls ---------------------------------------------------------------------------------------

def list_repositories(api, registry, pace=None):
    repos = unless_registry_missing(api, registry, lambda: api.paginate(
        "registries.list_repositories_v2", "repositories", registry, pace=pace))
    if repos is None:
        raise DocrError("Registry %r (option registry) was not found." % registry)
    return repos


def list_tags(api, registry, repository, pace=None):
    return api.paginate("registries.list_repository_tags", "tags", registry, repository, pace=pace)


def list_manifests(api, registry, repository, pace=None):
    return api.paginate("registries.list_repository_manifests", "manifests", registry, repository, pace=pace)


def delete_item(api, registry, item, pace=None):
    """Delete one planned tag or manifest. A 404 means it is already gone (an earlier, interrupted run)."""
    if item.get("tag") is not None:
        api.call("registries.delete_repository_tag", registry, item["repository"], item["tag"], pace=pace)
    else:
        api.call("registries.delete_repository_manifest", registry, item["repository"], item["digest"], pace=pace)


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
