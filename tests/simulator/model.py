"""The simulated account: its state and the API's rules (subscription, registries, repositories, GC,
credentials and DOKS clusters).

Every public method is called with the simulator's lock held and either returns ``(status, body)`` (lists:
the whole list; the HTTP layer pages it) or raises :class:`ApiError`. Reads never change state: the account
moves along the simulated clock only in :meth:`Account.advance_to`, which the HTTP layer calls once per
request before dispatching it (server.py). Times come from the simulated clock.
"""

import base64
import hashlib
import re
import uuid

from . import gc as gcs
from .clock import iso
from .errors import ApiError, as_int, not_found, unprocessable

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

# The GC state machine lives in gc.py; these names stay for the modules that import them from here.
GC_PHASES = gcs.PHASES
GC_TERMINAL = gcs.TERMINAL
GC_SPEC_STATUSES = gcs.SPEC_STATUSES
GC_UNTAGGED, GC_BLOBS, GC_BOTH = gcs.UNTAGGED, gcs.BLOBS, gcs.BOTH
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


def fake_digest(*parts):
    seed = ":".join(str(part) for part in parts) + uuid.uuid4().hex
    return "sha256:" + hashlib.sha256(seed.encode("utf-8")).hexdigest()


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
        self.phase_seconds = dict(gcs.DEFAULT_PHASE_SECONDS)
        self.fail_next_gc = set()
        self.doks_reading = DOKS_READINGS[0]

    # ------------------------------------------------------------------ helpers

    def now(self):
        return self.clock.now()

    def new_registry(self, name, region, created):
        return {"name": name, "region": region, "created_at": created, "repositories": {}, "blobs": {},
                "usage_updated_at": created}

    def registry(self, name):
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
        for gc in self.gcs:
            if gc["registry_name"] == name and gcs.is_active(gc):
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
    def sorted_manifests(repo):
        return sorted(repo["manifests"].values(), key=lambda man: (-man["updated_at"], man["digest"]))

    def referenced_blobs(self, registry):
        used = set()
        for repo in registry["repositories"].values():
            for manifest in repo["manifests"].values():
                used.update(blob["digest"] for blob in manifest["blobs"])
        return used

    # ------------------------------------------------------------------ registries

    def list_registries(self):
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
        registry = self.new_registry(name, region, now)
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
        if self.subscription is None:
            # No subscription yet: answer an empty object (valid against the spec, which has no 404 here).
            return 200, {}
        return 200, {"subscription": self.subscription_view()}

    def update_subscription(self, body, legacy=False):
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
        tiers = []
        for tier in TIERS:
            entry = dict(tier)
            reasons = self.eligibility(tier)
            entry["eligible"] = not reasons
            entry["eligibility_reasons"] = reasons
            tiers.append(entry)
        return 200, {"options": {"available_regions": list(REGIONS), "subscription_tiers": tiers}}

    # ------------------------------------------------------------------ repositories, tags, manifests

    def list_repositories_v2(self, name):
        """Every repository, by name (the HTTP layer pages it with ``page_token``, on ``name``)."""
        registry = self.registry(name)
        items = []
        for repo in sorted(registry["repositories"].values(), key=lambda repo: repo["name"]):
            item = {"registry_name": registry["name"], "name": repo["name"], "tag_count": len(repo["tags"]),
                    "manifest_count": len(repo["manifests"])}
            manifests = self.sorted_manifests(repo)
            if manifests:
                item["latest_manifest"] = self.manifest_view(registry, repo, manifests[0])
            items.append(item)
        return items

    def list_repositories_v1(self, name):
        registry = self.registry(name)
        items = []
        for repo in sorted(registry["repositories"].values(), key=lambda repo: repo["name"]):
            item = {"registry_name": registry["name"], "name": repo["name"], "tag_count": len(repo["tags"])}
            tags = self._tag_views(registry, repo)
            if tags:
                item["latest_tag"] = tags[0]
            items.append(item)
        return items

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

    def list_tags(self, name, repo_name):
        registry = self.registry(name)
        return self._tag_views(registry, self._repo(registry, repo_name))

    def list_manifests(self, name, repo_name):
        registry = self.registry(name)
        repo = self._repo(registry, repo_name)
        return [self.manifest_view(registry, repo, man) for man in self.sorted_manifests(repo)]

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
            expiry = as_int(query.get("expiry_seconds", 0) or 0, "expiry_seconds")
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
            size = as_int(body.get("size_bytes", 1000), "size_bytes", 1)
            layers = [{"digest": str(layer["digest"]),
                       "compressed_size_bytes": as_int(layer.get("compressed_size_bytes", layer.get("size_bytes", 0)),
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

    def advance_to(self, now):
        """Bring the account to ``now``: the one place it moves along the simulated clock.

        The data plane's storage is read first (what real clients pushed since the last request), then every
        active GC goes through the phases that ended by ``now``. The HTTP layer calls this once per request,
        before dispatching it; every other method reads or changes the state as it finds it.
        """
        if self.dataplane is not None:
            self.dataplane.sync(self)
        for gc in self.gcs:
            wait_until = None
            if self.dataplane is not None:
                # the read-only window is real: wait out the last write token issued for this registry
                wait_until = self.dataplane.tokens.write_tokens_expire_at(gc["registry_name"])
            gcs.advance(gc, now, self.phase_seconds, self.finish_gc, wait_until)

    def finish_gc(self, gc):
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
            used = self.referenced_blobs(registry)
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
        gc_type = gcs.normalise_type(body.get("type") if isinstance(body, dict) else None)
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

    def list_gcs(self, name):
        self.registry(name)
        found = [gc for gc in self.gcs if gc["registry_name"] == name]
        found.sort(key=lambda gc: gc["created_at"], reverse=True)
        return [self.gc_view(gc) for gc in found]

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

    # ------------------------------------------------------------------ legacy single-registry API

    def only_registry(self, allow_many=False):
        """The account's only registry (legacy ``/v2/registry``): 412 with several, 404 with none."""
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

    def list_clusters(self):
        clusters = sorted(self.clusters.values(), key=lambda cluster: (cluster["name"], cluster["id"]))
        return [self.cluster_view(cluster) for cluster in clusters]

    def get_cluster(self, cluster_id):
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
