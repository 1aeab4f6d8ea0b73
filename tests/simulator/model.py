"""The simulated account: subscription, registries, repositories, GC, credentials and DOKS clusters.

Every public method is called with the account lock held by the HTTP layer and either returns
``(status, body)`` or raises :class:`ApiError`. Times come from the simulated clock.
"""

import base64
import copy
import hashlib
import math
import re
import uuid

from .clock import iso, parse_iso

# Registry names as DigitalOcean documents them (the spec's ^[a-z0-9-]{1,63}$ is looser): begin with a
# letter, end with a letter or digit. The same text as NAME_RULE in plugins/module_utils/_registry.py.
NAME_RULE = r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?\Z"
NAME_RE = re.compile(NAME_RULE)
REPOSITORY_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# The region enum of POST /v2/registries in the spec subset.
REGIONS = ["nyc3", "sfo3", "sfo2", "ams3", "sgp1", "fra1", "blr1", "syd1"]
DEFAULT_REGION = "nyc3"
MAX_REGISTRIES = 10
MIB = 1024 * 1024
GIB = 1024 * MIB

TIERS = [
    {"name": "Starter", "slug": "starter", "included_repositories": 1, "included_storage_bytes": 500 * MIB,
     "allow_storage_overage": False, "included_bandwidth_bytes": 500 * MIB, "monthly_price_in_cents": 0,
     "storage_overage_price_in_cents": 0},
    {"name": "Basic", "slug": "basic", "included_repositories": 5, "included_storage_bytes": 5 * GIB,
     "allow_storage_overage": True, "included_bandwidth_bytes": 5 * GIB, "monthly_price_in_cents": 500,
     "storage_overage_price_in_cents": 2},
    {"name": "Professional", "slug": "professional", "included_repositories": 0, "included_storage_bytes": 100 * GIB,
     "allow_storage_overage": True, "included_bandwidth_bytes": 100 * GIB, "monthly_price_in_cents": 2000,
     "storage_overage_price_in_cents": 2},
]
TIER_BY_SLUG = dict((tier["slug"], tier) for tier in TIERS)

GC_PHASES = ["requested", "waiting for write JWTs to expire", "scanning manifests", "deleting unreferenced blobs"]
GC_TERMINAL = ("succeeded", "failed", "cancelled")
GC_SPEC_STATUSES = GC_PHASES + ["cancelling", "failed", "succeeded", "cancelled"]
DEFAULT_PHASE_SECONDS = {
    "requested": 5.0,
    "waiting for write JWTs to expire": 60.0,
    "scanning manifests": 30.0,
    "deleting unreferenced blobs": 30.0,
    "cancelling": 2.0,
}
# The spec's spelling (the enum of the legacy endpoint's body; godo's GarbageCollectionType constants).
GC_UNTAGGED = "untagged manifests only"
GC_BLOBS = "unreferenced blobs only"
GC_BOTH = "untagged manifests and unreferenced blobs"
GC_TYPES = (GC_UNTAGGED, GC_BLOBS, GC_BOTH)
# Without a body the API runs a blob-only GC: doctl sends this type unless told otherwise, and the spec
# describes the operation as clearing unreferenced blobs. (An assumption: see README.md.)
DEFAULT_GC_TYPE = GC_BLOBS
READ_ONLY_MESSAGE = "registry %s is read-only during garbage collection"
# How a cluster's ``registry_enabled`` relates to its ``registries`` (nothing documents it; both readings are
# modelled, see README.md): "mirrors_registries" = true exactly when ``registries`` is non-empty;
# "legacy_only" = it follows only the single-registry integration (POST/DELETE /v2/kubernetes/registry), as
# the spec's examples ("registry_enabled": false with two registries) suggest.
DOKS_READINGS = ("mirrors_registries", "legacy_only")

LEGACY_412_MESSAGE = (
    "This API is not supported if you have created multiple registries. Please use \n"
    "\u2018/v2/registries/{registry_name}\u2019 instead. Refer to \n"
    "https://docs.digitalocean.com/reference/api/digitalocean/#tag/Container-Registry for more info."
)
LEGACY_SUBSCRIPTION_412_MESSAGE = "registry is not eligible for tier because: [OverRegistryLimit]"

ERROR_IDS = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 412: "precondition_failed", 422: "unprocessable_entity", 429: "too_many_requests",
    500: "server_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout",
}


class ApiError(Exception):
    """An API error answered as ``{"id", "message", "request_id"}``."""

    def __init__(self, status, message, error_id=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_id = error_id or ERROR_IDS.get(status, "error")


def not_found(message="The resource you requested could not be found."):
    return ApiError(404, message)


def unprocessable(message):
    return ApiError(422, message)


def fake_digest(*parts):
    seed = ":".join(str(part) for part in parts) + uuid.uuid4().hex
    return "sha256:" + hashlib.sha256(seed.encode("utf-8")).hexdigest()


def _int(value, what, minimum=0):
    if isinstance(value, bool):
        raise ValueError("%s must be an integer" % what)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError("%s must be an integer" % what) from None
    if number < minimum:
        raise ValueError("%s must be >= %d" % (what, minimum))
    return number


def normalise_gc_type(value):
    """The spec's spelling only (``untagged manifests only`` ...); no type means the API's default."""
    if value is None:
        return DEFAULT_GC_TYPE
    if value not in GC_TYPES:
        raise unprocessable("invalid garbage collection type %r: expected one of %s"
                            % (value, ", ".join(repr(item) for item in GC_TYPES)))
    return value


class Page:
    """page/per_page (and page_token) pagination with absolute ``links.pages`` URLs."""

    def __init__(self, query, default_per_page=20, max_per_page=200):
        try:
            self.per_page = _int(query.get("per_page", default_per_page), "per_page", 1)
            self.page = _int(query.get("page", 1), "page", 1)
        except ValueError as err:
            raise ApiError(400, str(err)) from None
        if self.per_page > max_per_page:
            raise ApiError(400, "per_page must be <= %d" % max_per_page)

    @staticmethod
    def _url(base, path, **params):
        return base + path + "?" + "&".join("%s=%s" % (key, value) for key, value in sorted(params.items()))

    def numbered(self, items, base, path):
        """Slice ``items`` for ``page``; return ``(slice, links, meta)``."""
        total = len(items)
        last = max(1, int(math.ceil(total / float(self.per_page))))
        start = (self.page - 1) * self.per_page
        chunk = items[start:start + self.per_page]
        pages = {}
        if self.page > 1:
            pages["first"] = self._url(base, path, page=1, per_page=self.per_page)
            pages["prev"] = self._url(base, path, page=min(self.page - 1, last), per_page=self.per_page)
        if self.page < last:
            pages["next"] = self._url(base, path, page=self.page + 1, per_page=self.per_page)
            pages["last"] = self._url(base, path, page=last, per_page=self.per_page)
        return chunk, {"pages": pages}, {"total": total}

    def tokenised(self, items, key, token, base, path):
        """Cursor pagination: ``page_token`` is an opaque cursor (the last key of the previous page)."""
        total = len(items)
        if token:
            try:
                after = base64.urlsafe_b64decode(token.encode("ascii") + b"==").decode("utf-8")
            except (ValueError, UnicodeError):
                raise ApiError(400, "invalid page_token") from None
            rest = [item for item in items if key(item) > after]
        else:
            rest = items[(self.page - 1) * self.per_page:]
        chunk = rest[:self.per_page]
        pages = {}
        if len(rest) > self.per_page:
            cursor = base64.urlsafe_b64encode(key(chunk[-1]).encode("utf-8")).decode("ascii").rstrip("=")
            pages["next"] = self._url(base, path, page_token=cursor, per_page=self.per_page)
        return chunk, {"pages": pages}, {"total": total}


class Account:
    """The whole simulated account. Not thread-safe by itself: the server holds a lock around calls."""

    def __init__(self, clock):
        self.clock = clock
        self.dataplane = None  # a real registry behind the simulator (dataplane.py), set by --data-plane
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    def reset(self):
        self.subscription = None
        self.registries = {}
        self.taken_names = set()
        self.clusters = {}
        self.gcs = []
        self.credentials = {}
        self.tokens = None
        self.rate_limit = {"per_minute": 250, "per_hour": 5000}
        self.phase_seconds = dict(DEFAULT_PHASE_SECONDS)
        self.fail_next_gc = set()
        self.doks_reading = DOKS_READINGS[0]

    def configure(self, data):
        """Apply the non-resource parts of a seed (also used by ``POST /_sim/config``)."""
        if "rate_limit" in data:
            limits = data["rate_limit"] or {}
            for key in ("per_minute", "per_hour"):
                if key in limits:
                    self.rate_limit[key] = _int(limits[key], "rate_limit." + key)
        if "gc" in data:
            for key, value in ((data["gc"] or {}).get("phase_seconds") or {}).items():
                status = str(key).replace("_", " ")
                if status == "waiting for write jwts to expire":
                    status = "waiting for write JWTs to expire"
                if status not in self.phase_seconds:
                    raise ValueError("unknown GC phase %r (known: %s)" % (key, ", ".join(sorted(self.phase_seconds))))
                self.phase_seconds[status] = float(value)
        if "doks_registry_enabled" in data:
            reading = data["doks_registry_enabled"]
            if reading not in DOKS_READINGS:
                raise ValueError("doks_registry_enabled must be one of %s, got %r" % (", ".join(DOKS_READINGS), reading))
            self.doks_reading = reading
        if "tokens" in data:
            tokens = data["tokens"]
            if tokens is None:
                self.tokens = None
            else:
                self.tokens = {}
                for entry in tokens:
                    if isinstance(entry, str):
                        entry = {"token": entry}
                    self.tokens[str(entry["token"])] = {"read_only": bool(entry.get("read_only", False))}

    def load_seed(self, seed):
        """Load a seed document (see README.md). Raises ValueError with a clear message when it is wrong."""
        if not isinstance(seed, dict):
            raise ValueError("a seed must be a JSON/YAML mapping")
        known = {"subscription_tier", "taken_names", "tokens", "rate_limit", "gc", "registries", "clusters", "clock",
                 "doks_registry_enabled"}
        unknown = set(seed) - known
        if unknown:
            raise ValueError("unknown seed keys: %s" % ", ".join(sorted(unknown)))
        now = self.clock.now()
        self.configure(seed)
        clock = seed.get("clock") or {}
        if "advance" in clock:
            self.clock.advance(float(clock["advance"]))
        if "speed" in clock:
            self.clock.set_speed(float(clock["speed"]))
        if "step" in clock:
            self.clock.set_step(float(clock["step"]))
        tier = seed.get("subscription_tier")
        if tier is not None:
            if tier not in TIER_BY_SLUG:
                raise ValueError("unknown subscription_tier %r" % tier)
            self.subscription = {"tier_slug": tier, "created_at": now, "updated_at": now}
        self.taken_names = set(str(name) for name in seed.get("taken_names") or [])
        for spec in seed.get("registries") or []:
            if self.dataplane is not None and spec.get("repositories"):
                raise ValueError("with --data-plane, seed registries without repositories and push real images")
            self._seed_registry(spec, now)
        if self.registries and self.subscription is None:
            self.subscription = {"tier_slug": "professional" if len(self.registries) > 1 else "basic",
                                 "created_at": now, "updated_at": now}
        for spec in seed.get("clusters") or []:
            self._seed_cluster(spec, now)

    def _seed_registry(self, spec, now):
        name = spec.get("name")
        if not name or not NAME_RE.match(str(name)):
            raise ValueError("registry name %r breaks the naming rule %s" % (name, NAME_RULE))
        region = spec.get("region", DEFAULT_REGION)
        if region not in REGIONS:
            raise ValueError("registry %s: unknown region %r" % (name, region))
        created = parse_iso(spec["created_at"]) if spec.get("created_at") else now
        registry = self._new_registry(name, region, created)
        for repo_spec in spec.get("repositories") or []:
            repo_name = repo_spec.get("name")
            if not repo_name or not REPOSITORY_RE.match(str(repo_name)):
                raise ValueError("registry %s: bad repository name %r" % (name, repo_name))
            repo = registry["repositories"].setdefault(repo_name, {"name": repo_name, "manifests": {}, "tags": {}})
            for index, man_spec in enumerate(repo_spec.get("manifests") or []):
                self._seed_manifest(registry, repo, man_spec, now - (len(repo_spec["manifests"]) - index))
        self.registries[name] = registry

    def _seed_manifest(self, registry, repo, spec, default_time):
        digest = spec.get("digest") or fake_digest(registry["name"], repo["name"])
        updated = parse_iso(spec["updated_at"]) if spec.get("updated_at") else default_time
        blobs = []
        for blob in spec.get("blobs") or []:
            size = _int(blob.get("compressed_size_bytes", blob.get("size_bytes", 0)), "blob compressed_size_bytes")
            blobs.append({"digest": blob.get("digest") or fake_digest("blob"), "compressed_size_bytes": size})
        if not blobs:
            size = _int(spec.get("compressed_size_bytes", spec.get("size_bytes", 1000)), "manifest size_bytes")
            blobs.append({"digest": fake_digest("blob", digest), "compressed_size_bytes": size})
        compressed = sum(blob["compressed_size_bytes"] for blob in blobs)
        size_bytes = _int(spec.get("size_bytes", compressed), "manifest size_bytes")
        for blob in blobs:
            registry["blobs"][blob["digest"]] = blob["compressed_size_bytes"]
        repo["manifests"][digest] = {"digest": digest, "size_bytes": size_bytes, "blobs": blobs, "updated_at": updated}
        for tag in spec.get("tags") or []:
            repo["tags"][str(tag)] = {"digest": digest, "updated_at": updated}
        registry["usage_updated_at"] = self.clock.now()

    def _seed_cluster(self, spec, now):
        cluster_id = str(spec.get("id") or uuid.uuid4())
        if not UUID_RE.match(cluster_id):
            raise ValueError("cluster id %r must be a lowercase UUID (the spec declares format: uuid)" % cluster_id)
        registries = list(spec.get("registries") or [])
        for name in registries:
            if name not in self.registries:
                raise ValueError("cluster %s lists unknown registry %r" % (cluster_id, name))
        self.clusters[cluster_id] = {
            "id": cluster_id,
            "name": spec.get("name") or "cluster-%s" % cluster_id[:8],
            "region": spec.get("region", "nyc1"),
            "version": spec.get("version", "1.33.1-do.0"),
            "registries": registries,
            # the single-registry integration's own flag (read only with doks_registry_enabled: legacy_only)
            "legacy_enabled": bool(spec.get("registry_enabled", False)),
            "created_at": now,
            "updated_at": now,
            "node_pool_id": str(uuid.uuid4()),
            "vpc_uuid": str(uuid.uuid4()),
            "node_count": _int(spec.get("node_count", 3), "node_count", 1),
        }

    # ------------------------------------------------------------------ helpers

    def now(self):
        return self.clock.now()

    def _new_registry(self, name, region, created):
        return {"name": name, "region": region, "created_at": created, "repositories": {}, "blobs": {},
                "usage_updated_at": created}

    def registry(self, name):
        self.tick()
        registry = self.registries.get(name)
        if registry is None:
            raise not_found("registry not found")
        return registry

    @staticmethod
    def storage(registry):
        return sum(registry["blobs"].values())

    def total_storage(self):
        return sum(self.storage(registry) for registry in self.registries.values())

    def repository_count(self):
        return sum(len(registry["repositories"]) for registry in self.registries.values())

    def _touch_usage(self, registry):
        registry["usage_updated_at"] = self.now()

    def registry_view(self, registry):
        return {
            "name": registry["name"],
            "created_at": iso(registry["created_at"]),
            "region": registry["region"],
            "storage_usage_bytes": self.storage(registry),
            "storage_usage_bytes_updated_at": iso(registry["usage_updated_at"]),
        }

    def subscription_view(self):
        sub = self.subscription
        return {"tier": dict(TIER_BY_SLUG[sub["tier_slug"]]), "created_at": iso(sub["created_at"]),
                "updated_at": iso(sub["updated_at"])}

    def eligibility(self, tier):
        reasons = []
        if tier["included_repositories"] and self.repository_count() > tier["included_repositories"]:
            reasons.append("OverRepositoryLimit")
        if not tier["allow_storage_overage"] and self.total_storage() > tier["included_storage_bytes"]:
            reasons.append("OverStorageLimit")
        return reasons

    def active_gc(self, name):
        self.tick()
        for gc in self.gcs:
            if gc["registry_name"] == name and gc["status"] not in GC_TERMINAL:
                return gc
        return None

    def read_only(self, name):
        return self.active_gc(name) is not None

    def _writable(self, registry):
        if self.read_only(registry["name"]):
            raise ApiError(409, READ_ONLY_MESSAGE % registry["name"])

    def _repo(self, registry, name):
        repo = registry["repositories"].get(name)
        if repo is None:
            raise not_found("repository not found")
        return repo

    @staticmethod
    def manifest_tags(repo, digest):
        return sorted(tag for tag, info in repo["tags"].items() if info["digest"] == digest)

    def manifest_view(self, registry, repo, manifest):
        return {
            "registry_name": registry["name"],
            "repository": repo["name"],
            "digest": manifest["digest"],
            "compressed_size_bytes": sum(blob["compressed_size_bytes"] for blob in manifest["blobs"]),
            "size_bytes": manifest["size_bytes"],
            "updated_at": iso(manifest["updated_at"]),
            "tags": self.manifest_tags(repo, manifest["digest"]),
            "blobs": [dict(blob) for blob in manifest["blobs"]],
        }

    @staticmethod
    def _sorted_manifests(repo):
        return sorted(repo["manifests"].values(), key=lambda man: (-man["updated_at"], man["digest"]))

    def _referenced_blobs(self, registry):
        used = set()
        for repo in registry["repositories"].values():
            for manifest in repo["manifests"].values():
                used.update(blob["digest"] for blob in manifest["blobs"])
        return used

    # ------------------------------------------------------------------ registries

    def list_registries(self):
        self.tick()
        views = []
        for name in sorted(self.registries):
            view = self.registry_view(self.registries[name])
            if self.subscription is not None:
                # The spec's list items carry the (account-wide) subscription; single-registry reads do not.
                view["subscription"] = self.subscription_view()
            views.append(view)
        return 200, {"registries": views}

    def get_registry(self, name):
        return 200, {"registry": self.registry_view(self.registry(name))}

    def _check_name(self, name):
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise unprocessable("invalid registry name %r: use 1 to 63 lowercase letters, digits and '-', "
                                "beginning with a letter and ending with a letter or digit" % (name,))
        if name in self.registries or name in self.taken_names:
            raise ApiError(409, "registry name %r is already taken" % name)

    def validate_name(self, body):
        self._check_name(body.get("name"))
        return 204, None

    def create_registry(self, body):
        self.tick()
        name = body.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            self._check_name(name)
        region = body.get("region")
        if region is None:
            region = DEFAULT_REGION
        if region not in REGIONS:
            raise unprocessable("invalid region %r: expected one of %s" % (region, ", ".join(REGIONS)))
        tier = body.get("subscription_tier_slug")
        if tier is not None and tier not in TIER_BY_SLUG:
            raise unprocessable("invalid subscription_tier_slug %r: expected one of %s" % (tier, ", ".join(TIER_BY_SLUG)))
        self._check_name(name)
        if self.subscription is None:
            if tier is None:
                raise unprocessable("subscription_tier_slug is required: the account has no registry subscription yet")
            effective = tier
        else:
            effective = self.subscription["tier_slug"]
            if tier is not None and tier != effective:
                raise unprocessable("subscription_tier_slug %r differs from the account's subscription tier %r; "
                                    "change the subscription instead" % (tier, effective))
        if len(self.registries) >= MAX_REGISTRIES:
            raise unprocessable("registry limit reached: an account can have at most %d registries" % MAX_REGISTRIES)
        if self.registries and effective != "professional":
            raise unprocessable("more than one registry requires the professional subscription tier "
                                "(current tier: %s)" % effective)
        now = self.now()
        if self.subscription is None:
            self.subscription = {"tier_slug": effective, "created_at": now, "updated_at": now}
        registry = self._new_registry(name, region, now)
        self.registries[name] = registry
        return 201, {"registry": self.registry_view(registry)}

    def delete_registry(self, name):
        self.registry(name)
        if self.dataplane is not None:
            self.dataplane.delete_registry(name)
        del self.registries[name]
        self.gcs = [gc for gc in self.gcs if gc["registry_name"] != name]
        self.fail_next_gc.discard(name)
        for cluster in self.clusters.values():
            if name in cluster["registries"]:
                cluster["registries"].remove(name)
                cluster["updated_at"] = self.now()
        return 204, None

    # ------------------------------------------------------------------ subscription and options

    def get_subscription(self):
        self.tick()
        if self.subscription is None:
            # No subscription yet: answer an empty object (valid against the spec, which has no 404 here).
            return 200, {}
        return 200, {"subscription": self.subscription_view()}

    def update_subscription(self, body, legacy=False):
        self.tick()
        slug = body.get("tier_slug")
        if slug not in TIER_BY_SLUG:
            raise unprocessable("invalid tier_slug %r: expected one of %s" % (slug, ", ".join(TIER_BY_SLUG)))
        if legacy and len(self.registries) > 1:
            raise ApiError(412, LEGACY_SUBSCRIPTION_412_MESSAGE)
        now = self.now()
        if self.subscription is None:
            self.subscription = {"tier_slug": slug, "created_at": now, "updated_at": now}
            return 200, {"subscription": self.subscription_view()}
        if slug != "professional" and len(self.registries) > 1:
            # Only the deprecated endpoint documents this refusal (412, "[OverRegistryLimit]"); the new one is
            # assumed to answer the same way (see README.md).
            raise ApiError(412, LEGACY_SUBSCRIPTION_412_MESSAGE)
        reasons = self.eligibility(TIER_BY_SLUG[slug])
        if reasons:
            raise unprocessable("registry is not eligible for tier %s because: [%s]" % (slug, ", ".join(reasons)))
        if slug != self.subscription["tier_slug"]:
            self.subscription["tier_slug"] = slug
            self.subscription["updated_at"] = now
        return 200, {"subscription": self.subscription_view()}

    def options(self):
        self.tick()
        tiers = []
        for tier in TIERS:
            entry = dict(tier)
            reasons = self.eligibility(tier)
            entry["eligible"] = not reasons
            entry["eligibility_reasons"] = reasons
            tiers.append(entry)
        return 200, {"options": {"available_regions": list(REGIONS), "subscription_tiers": tiers}}

    # ------------------------------------------------------------------ repositories, tags, manifests

    def list_repositories_v2(self, name, query, base, path):
        registry = self.registry(name)
        page = Page(query)
        repos = sorted(registry["repositories"].values(), key=lambda repo: repo["name"])
        chunk, links, meta = page.tokenised(repos, lambda repo: repo["name"], query.get("page_token"), base, path)
        items = []
        for repo in chunk:
            item = {"registry_name": registry["name"], "name": repo["name"], "tag_count": len(repo["tags"]),
                    "manifest_count": len(repo["manifests"])}
            manifests = self._sorted_manifests(repo)
            if manifests:
                item["latest_manifest"] = self.manifest_view(registry, repo, manifests[0])
            items.append(item)
        return 200, {"repositories": items, "links": links, "meta": meta}

    def list_repositories_v1(self, name, query, base, path):
        registry = self.registry(name)
        page = Page(query)
        repos = sorted(registry["repositories"].values(), key=lambda repo: repo["name"])
        chunk, links, meta = page.numbered(repos, base, path)
        items = []
        for repo in chunk:
            item = {"registry_name": registry["name"], "name": repo["name"], "tag_count": len(repo["tags"])}
            tags = self._tag_views(registry, repo)
            if tags:
                item["latest_tag"] = tags[0]
            items.append(item)
        return 200, {"repositories": items, "links": links, "meta": meta}

    def _tag_views(self, registry, repo):
        views = []
        for tag, info in repo["tags"].items():
            manifest = repo["manifests"][info["digest"]]
            views.append({
                "registry_name": registry["name"], "repository": repo["name"], "tag": tag,
                "manifest_digest": info["digest"],
                "compressed_size_bytes": sum(blob["compressed_size_bytes"] for blob in manifest["blobs"]),
                "size_bytes": manifest["size_bytes"], "updated_at": iso(info["updated_at"]),
                "_sort": (-info["updated_at"], tag),
            })
        views.sort(key=lambda view: view["_sort"])
        for view in views:
            del view["_sort"]
        return views

    def list_tags(self, name, repo_name, query, base, path):
        registry = self.registry(name)
        repo = self._repo(registry, repo_name)
        page = Page(query)
        chunk, links, meta = page.numbered(self._tag_views(registry, repo), base, path)
        return 200, {"tags": chunk, "links": links, "meta": meta}

    def list_manifests(self, name, repo_name, query, base, path):
        registry = self.registry(name)
        repo = self._repo(registry, repo_name)
        page = Page(query)
        views = [self.manifest_view(registry, repo, man) for man in self._sorted_manifests(repo)]
        chunk, links, meta = page.numbered(views, base, path)
        return 200, {"manifests": chunk, "links": links, "meta": meta}

    def delete_repository(self, name, repo_name):
        registry = self.registry(name)
        self._repo(registry, repo_name)
        self._writable(registry)
        if self.dataplane is not None:
            self.dataplane.delete_repository(name, repo_name)
        del registry["repositories"][repo_name]
        self._touch_usage(registry)
        return 204, None

    def delete_tag(self, name, repo_name, tag):
        registry = self.registry(name)
        repo = self._repo(registry, repo_name)
        if tag not in repo["tags"]:
            raise not_found("tag not found")
        self._writable(registry)
        if self.dataplane is not None:
            self.dataplane.delete_tag(name, repo_name, tag)
        del repo["tags"][tag]
        return 204, None

    def delete_manifest(self, name, repo_name, digest):
        registry = self.registry(name)
        repo = self._repo(registry, repo_name)
        if digest not in repo["manifests"]:
            raise not_found("manifest not found")
        self._writable(registry)
        if self.dataplane is not None:
            self.dataplane.delete_manifest(name, repo_name, digest)
        del repo["manifests"][digest]
        for tag in [tag for tag, info in repo["tags"].items() if info["digest"] == digest]:
            del repo["tags"][tag]
        self._touch_usage(registry)
        return 204, None

    # ------------------------------------------------------------------ docker credentials and push

    def docker_credentials(self, name, query):
        self.registry(name)
        try:
            expiry = _int(query.get("expiry_seconds", 0) or 0, "expiry_seconds")
        except ValueError as err:
            raise ApiError(400, str(err)) from None
        flag = str(query.get("read_write", "false")).lower()
        if flag not in ("true", "false", "1", "0"):
            raise ApiError(400, "read_write must be true or false")
        now = self.now()
        user = "docr-" + uuid.uuid4().hex[:16]
        password = uuid.uuid4().hex + uuid.uuid4().hex
        self.credentials[user] = {
            "user": user, "password": password, "registry": name, "read_write": flag in ("true", "1"),
            "issued_at": now, "expires_at": now + expiry if expiry else None,
        }
        auth = base64.b64encode(("%s:%s" % (user, password)).encode("utf-8")).decode("ascii")
        host = self.dataplane.address if self.dataplane is not None else "registry.digitalocean.com"
        return 200, {"auths": {host: {"auth": auth}}}

    def _check_push_auth(self, auth):
        try:
            user, password = base64.b64decode(str(auth).encode("ascii"), validate=True).decode("utf-8").split(":", 1)
        except (ValueError, UnicodeError):
            raise ApiError(401, "malformed docker credentials") from None
        cred = self.credentials.get(user)
        if cred is None or cred["password"] != password:
            raise ApiError(401, "unknown docker credentials")
        if cred["expires_at"] is not None and self.now() >= cred["expires_at"]:
            raise ApiError(401, "docker credentials expired at %s" % iso(cred["expires_at"]))
        if not cred["read_write"]:
            raise ApiError(403, "read-only docker credentials cannot push")

    def push(self, body):
        """A simulated ``docker push`` of one image (see README.md)."""
        if self.dataplane is not None:
            raise ApiError(409, "a real registry is behind the simulator (--data-plane): push with a real client")
        self.tick()
        name = body.get("registry")
        registry = self.registries.get(name)
        if registry is None:
            raise not_found("registry %r not found" % (name,))
        if body.get("auth") is not None:
            self._check_push_auth(body["auth"])
        self._writable(registry)
        repo_name = body.get("repository")
        if not isinstance(repo_name, str) or not REPOSITORY_RE.match(repo_name):
            raise ApiError(400, "invalid repository name %r" % (repo_name,))
        tag = str(body.get("tag") or "latest")
        if not TAG_RE.match(tag):
            raise ApiError(400, "invalid tag %r" % tag)
        try:
            size = _int(body.get("size_bytes", 1000), "size_bytes", 1)
            layers = [{"digest": str(layer["digest"]),
                       "compressed_size_bytes": _int(layer.get("compressed_size_bytes", layer.get("size_bytes", 0)),
                                                     "layer size")}
                      for layer in body.get("layers") or []]
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ApiError(400, "bad push: %s" % err) from None
        tier = TIER_BY_SLUG[self.subscription["tier_slug"]] if self.subscription else TIER_BY_SLUG["starter"]
        new_repo = repo_name not in registry["repositories"]
        if new_repo and tier["included_repositories"] and self.repository_count() + 1 > tier["included_repositories"]:
            raise unprocessable("repository limit reached: the %s tier includes %d repositories"
                                % (tier["slug"], tier["included_repositories"]))
        blob = {"digest": fake_digest("blob", name, repo_name, tag), "compressed_size_bytes": size}
        blobs = [blob] + layers
        added = sum(item["compressed_size_bytes"] for item in blobs if item["digest"] not in registry["blobs"])
        if not tier["allow_storage_overage"] and self.total_storage() + added > tier["included_storage_bytes"]:
            raise unprocessable("storage limit reached: the %s tier includes %d bytes and allows no overage"
                                % (tier["slug"], tier["included_storage_bytes"]))
        repo = registry["repositories"].setdefault(repo_name, {"name": repo_name, "manifests": {}, "tags": {}})
        now = self.now()
        digest = fake_digest("manifest", name, repo_name, tag)
        for item in blobs:
            registry["blobs"][item["digest"]] = item["compressed_size_bytes"]
        manifest = {"digest": digest, "size_bytes": sum(item["compressed_size_bytes"] for item in blobs) + 1024,
                    "blobs": blobs, "updated_at": now}
        repo["manifests"][digest] = manifest
        repo["tags"][tag] = {"digest": digest, "updated_at": now}
        self._touch_usage(registry)
        return 201, self.manifest_view(registry, repo, manifest)

    # ------------------------------------------------------------------ garbage collection

    def tick(self):
        """Move every non-terminal GC along the simulated clock."""
        now = self.clock.now()
        if self.dataplane is not None:
            self.dataplane.sync(self)
        for gc in self.gcs:
            while gc["status"] not in GC_TERMINAL and not gc["forced"]:
                duration = self.phase_seconds.get(gc["status"], 0.0)
                if self.dataplane is not None and gc["status"] == GC_PHASES[1]:
                    # the read-only window is real: wait out the last write token issued for this registry
                    expiry = self.dataplane.tokens.write_tokens_expire_at(gc["registry_name"])
                    duration = max(duration, expiry - gc["phase_started"])
                if now < gc["phase_started"] + duration:
                    break
                at = gc["phase_started"] + duration
                gc["phase_started"] = at
                gc["updated_at"] = at
                if gc["status"] == "cancelling":
                    gc["status"] = "cancelled"
                elif gc["status"] == GC_PHASES[-1]:
                    self._finish_gc(gc)
                else:
                    gc["status"] = GC_PHASES[GC_PHASES.index(gc["status"]) + 1]

    def _finish_gc(self, gc):
        name = gc["registry_name"]
        if name in self.fail_next_gc:
            self.fail_next_gc.discard(name)
            gc["status"] = "failed"
            return
        registry = self.registries[name]
        if self.dataplane is not None:
            gc["blobs_deleted"], gc["freed_bytes"] = self.dataplane.garbage_collect(self, name, gc["type"])
            registry["usage_updated_at"] = gc["updated_at"]
            gc["status"] = "succeeded"
            return
        if gc["type"] in (GC_UNTAGGED, GC_BOTH):
            for repo_name in list(registry["repositories"]):
                repo = registry["repositories"][repo_name]
                tagged = set(info["digest"] for info in repo["tags"].values())
                for digest in [digest for digest in repo["manifests"] if digest not in tagged]:
                    del repo["manifests"][digest]
                if not repo["manifests"]:
                    del registry["repositories"][repo_name]
        if gc["type"] in (GC_BLOBS, GC_BOTH):
            used = self._referenced_blobs(registry)
            for digest in [digest for digest in registry["blobs"] if digest not in used]:
                gc["blobs_deleted"] += 1
                gc["freed_bytes"] += registry["blobs"].pop(digest)
        registry["usage_updated_at"] = gc["updated_at"]
        gc["status"] = "succeeded"

    def gc_view(self, gc):
        return {"uuid": gc["uuid"], "registry_name": gc["registry_name"], "status": gc["status"],
                "created_at": iso(gc["created_at"]), "updated_at": iso(gc["updated_at"]),
                "blobs_deleted": gc["blobs_deleted"], "freed_bytes": gc["freed_bytes"]}

    def start_gc(self, name, body):
        registry = self.registry(name)
        # The spec declares no request body here, but the real API accepts {"type": ...}: honour it.
        gc_type = normalise_gc_type(body.get("type") if isinstance(body, dict) else None)
        if self.active_gc(name) is not None:
            raise ApiError(409, "a garbage collection is already active for registry %s" % registry["name"])
        now = self.now()
        gc = {"uuid": str(uuid.uuid4()), "registry_name": name, "type": gc_type, "status": "requested",
              "created_at": now, "updated_at": now, "phase_started": now, "blobs_deleted": 0, "freed_bytes": 0,
              "forced": False}
        self.gcs.append(gc)
        return 201, {"garbage_collection": self.gc_view(gc)}

    def get_active_gc(self, name):
        self.registry(name)
        gc = self.active_gc(name)
        if gc is None:
            raise not_found("no active garbage collection for registry %s" % name)
        return 200, {"garbage_collection": self.gc_view(gc)}

    def list_gcs(self, name, query, base, path):
        self.registry(name)
        page = Page(query)
        gcs = [gc for gc in self.gcs if gc["registry_name"] == name]
        gcs.sort(key=lambda gc: gc["created_at"], reverse=True)
        chunk, links, meta = page.numbered([self.gc_view(gc) for gc in gcs], base, path)
        return 200, {"garbage_collections": chunk, "links": links, "meta": meta}

    def update_gc(self, name, gc_uuid, body):
        self.registry(name)
        found = [gc for gc in self.gcs if gc["registry_name"] == name and gc["uuid"] == gc_uuid]
        if not found:
            raise not_found("garbage collection not found")
        gc = found[0]
        if body.get("cancel") is not True:
            raise unprocessable("only {\"cancel\": true} is supported")
        if gc["status"] in GC_TERMINAL:
            raise ApiError(409, "garbage collection %s already ended (%s)" % (gc_uuid, gc["status"]))
        if gc["status"] != "cancelling":
            now = self.now()
            gc.update(status="cancelling", forced=False, phase_started=now, updated_at=now)
        return 200, {"garbage_collection": self.gc_view(gc)}

    def gc_control(self, body):
        """Admin: ``next_outcome: failed`` and/or ``force_status``."""
        self.tick()
        name = body.get("registry")
        if name not in self.registries:
            raise not_found("registry %r not found" % (name,))
        result = {"registry": name}
        if "next_outcome" in body:
            if body["next_outcome"] == "failed":
                self.fail_next_gc.add(name)
            elif body["next_outcome"] in (None, "succeeded"):
                self.fail_next_gc.discard(name)
            else:
                raise ApiError(400, "next_outcome must be 'failed' or 'succeeded'")
        if "force_status" in body:
            gc = self.active_gc(name)
            if gc is None:
                raise ApiError(409, "no active garbage collection to force for registry %s" % name)
            status = str(body["force_status"])
            now = self.now()
            gc.update(status=status, phase_started=now, updated_at=now)
            # A forced status outside the state machine freezes the GC until it is cancelled or forced again.
            gc["forced"] = status not in GC_SPEC_STATUSES
            if status == "succeeded":
                gc["status"] = GC_PHASES[-1]
                self._finish_gc(gc)
            result["garbage_collection"] = self.gc_view(gc)
        result["fail_next_gc"] = name in self.fail_next_gc
        return 200, result

    # ------------------------------------------------------------------ legacy single-registry API

    def only_registry(self, allow_many=False):
        """The account's only registry (legacy ``/v2/registry``): 412 with several, 404 with none."""
        self.tick()
        if len(self.registries) > 1 and not allow_many:
            raise ApiError(412, LEGACY_412_MESSAGE)
        if not self.registries:
            raise not_found("no registry exists")
        return sorted(self.registries)[0]

    # ------------------------------------------------------------------ DOKS

    def cluster_view(self, cluster):
        now_iso = iso(cluster["created_at"])
        return {
            "id": cluster["id"], "name": cluster["name"], "region": cluster["region"], "version": cluster["version"],
            "cluster_subnet": "10.244.0.0/16", "service_subnet": "10.245.0.0/16", "vpc_uuid": cluster["vpc_uuid"],
            "ipv4": "", "endpoint": "https://%s.k8s.ondigitalocean.com" % cluster["id"],
            "tags": ["k8s", "k8s:%s" % cluster["id"]],
            "node_pools": [{"id": cluster["node_pool_id"], "name": "%s-default-pool" % cluster["name"],
                            "size": "s-2vcpu-4gb", "count": cluster["node_count"],
                            "tags": ["k8s", "k8s:%s" % cluster["id"], "k8s:worker"], "labels": None, "taints": [],
                            "auto_scale": False, "min_nodes": 0, "max_nodes": 0, "nodes": []}],
            "maintenance_policy": {"start_time": "00:00", "duration": "4h0m0s", "day": "any"},
            "auto_upgrade": False, "surge_upgrade": False, "ha": False,
            "status": {"state": "running", "message": ""},
            "created_at": now_iso, "updated_at": iso(cluster["updated_at"]),
            "registry_enabled": self._registry_enabled(cluster), "registries": list(cluster["registries"]),
        }

    def _registry_enabled(self, cluster):
        if self.doks_reading == "legacy_only":
            return cluster["legacy_enabled"]
        return bool(cluster["registries"])

    def list_clusters(self, query, base, path):
        self.tick()
        page = Page(query)
        clusters = sorted(self.clusters.values(), key=lambda cluster: (cluster["name"], cluster["id"]))
        chunk, links, meta = page.numbered([self.cluster_view(cluster) for cluster in clusters], base, path)
        return 200, {"kubernetes_clusters": chunk, "links": links, "meta": meta}

    def get_cluster(self, cluster_id):
        self.tick()
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            raise not_found("cluster not found")
        return 200, {"kubernetes_cluster": self.cluster_view(cluster)}

    def _cluster_targets(self, body):
        ids = body.get("cluster_uuids")
        if not isinstance(ids, list) or not ids or not all(isinstance(item, str) for item in ids):
            raise unprocessable("cluster_uuids must be a non-empty list of cluster ids")
        missing = [item for item in ids if item not in self.clusters]
        if missing:
            raise not_found("cluster not found: %s" % ", ".join(missing))
        return [self.clusters[item] for item in ids]

    def cluster_registries(self, body, add, legacy=False):
        self.tick()
        if legacy:
            clusters = self._cluster_targets(body)
            names = [self.only_registry()]
            if self.doks_reading == "legacy_only":
                # This reading keeps the single-registry integration apart: it sets its flag, not `registries`.
                now = self.now()
                for cluster in clusters:
                    if cluster["legacy_enabled"] != add:
                        cluster.update(legacy_enabled=add, updated_at=now)
                return 204, None
        else:
            names = body.get("registries")
            if not isinstance(names, list) or not names or not all(isinstance(item, str) for item in names):
                raise unprocessable("registries must be a non-empty list of registry names")
            clusters = self._cluster_targets(body)
            missing = [name for name in names if name not in self.registries]
            if missing:
                raise not_found("registry not found: %s" % ", ".join(missing))
        now = self.now()
        for cluster in clusters:
            before = list(cluster["registries"])
            for name in names:
                if add and name not in cluster["registries"]:
                    cluster["registries"].append(name)
                if not add and name in cluster["registries"]:
                    cluster["registries"].remove(name)
            if before != cluster["registries"]:
                cluster["updated_at"] = now
        return 204, None

    # ------------------------------------------------------------------ admin view

    def dump(self):
        self.tick()
        registries = []
        for name in sorted(self.registries):
            registry = self.registries[name]
            view = self.registry_view(registry)
            view["read_only"] = self.read_only(name)
            view["blobs"] = dict(registry["blobs"])
            view["referenced_blobs"] = sorted(self._referenced_blobs(registry))
            repos = []
            for repo_name in sorted(registry["repositories"]):
                repo = registry["repositories"][repo_name]
                repos.append({"name": repo_name,
                              "manifests": [self.manifest_view(registry, repo, man) for man in self._sorted_manifests(repo)],
                              "tags": dict((tag, info["digest"]) for tag, info in sorted(repo["tags"].items()))})
            view["repositories"] = repos
            registries.append(view)
        sub = None
        if self.subscription is not None:
            sub = {"tier_slug": self.subscription["tier_slug"], "tier": self.subscription["tier_slug"], "created_at": iso(self.subscription["created_at"]),
                   "updated_at": iso(self.subscription["updated_at"])}
        gcs = []
        for gc in sorted(self.gcs, key=lambda item: item["created_at"], reverse=True):
            view = self.gc_view(gc)
            view["type"] = gc["type"]
            gcs.append(view)
        creds = []
        for cred in sorted(self.credentials.values(), key=lambda item: item["issued_at"]):
            creds.append({"user": cred["user"], "registry": cred["registry"], "read_write": cred["read_write"],
                          "issued_at": iso(cred["issued_at"]),
                          "expires_at": iso(cred["expires_at"]) if cred["expires_at"] is not None else None,
                          "expired": cred["expires_at"] is not None and self.now() >= cred["expires_at"]})
        return {
            "clock": self.clock.describe(),
            "subscription": sub,
            "taken_names": sorted(self.taken_names),
            "registries": registries,
            "clusters": [self.cluster_view(cluster) for cluster in sorted(self.clusters.values(), key=lambda c: c["name"])],
            "gcs": gcs,
            "fail_next_gc": sorted(self.fail_next_gc),
            "credentials": creds,
            "tokens": copy.deepcopy(self.tokens),
            "rate_limit": dict(self.rate_limit),
            "gc_phase_seconds": dict(self.phase_seconds),
            "doks_registry_enabled": self.doks_reading,
        }
