"""The admin API (``/_sim/*``): reset, seed, configuration, request log, faults, clock, push, GC control, state.

Tests and demos drive the simulator through these endpoints; their paths and bodies are a contract (molecule
scenarios, e2e, the AWX and demo tests use them). :func:`handle` runs one admin call with the simulator's
lock held. Seeding and the state dump live here too: they are how tests set and see the whole account,
outside the API's own rules.
"""

import copy
import re
import uuid

from . import gc as gcs
from .clock import iso, parse_iso
from .errors import ApiError, as_int, not_found
from .model import (DEFAULT_REGION, DOKS_READINGS, NAME_RE, NAME_RULE, REGIONS, REPOSITORY_RE, TIER_BY_SLUG, UUID_RE,
                    fake_digest)


class Faults:
    """Admin-injected faults, consumed by matching /v2 requests."""

    FIELDS = {"method", "path", "path_regex", "status", "retry_after", "latency", "drop", "times", "after", "message",
              "hold"}

    def __init__(self):
        self.rules = []

    def add(self, rule):
        unknown = set(rule) - self.FIELDS
        if unknown:
            raise ValueError("unknown fault fields: %s" % ", ".join(sorted(unknown)))
        if "path" in rule and "path_regex" in rule:
            raise ValueError("give path or path_regex, not both")
        if not (rule.get("status") or rule.get("drop") or rule.get("latency") or rule.get("hold")):
            raise ValueError("a fault needs status, drop, latency or hold")
        if rule.get("after") and not (rule.get("status") or rule.get("drop")):
            raise ValueError("after: true needs status or drop")
        entry = dict(rule)
        entry["id"] = uuid.uuid4().hex[:8]
        entry["times"] = int(rule.get("times", 1))
        if "path_regex" in rule:
            re.compile(rule["path_regex"])
        self.rules.append(entry)
        return entry

    def take(self, method, path):
        """Return and consume the first rule matching this request, or None."""
        for rule in self.rules:
            if rule.get("method") and rule["method"].upper() != method:
                continue
            if "path" in rule and rule["path"] != path:
                continue
            if "path_regex" in rule and not re.search(rule["path_regex"], path):
                continue
            rule["times"] -= 1
            if rule["times"] <= 0:
                self.rules.remove(rule)
            return dict(rule)
        return None


# ---------------------------------------------------------------------- configuration and seeds

def configure(account, data):
    """Apply the non-resource parts of a seed (also ``POST /_sim/config``)."""
    if "rate_limit" in data:
        limits = data["rate_limit"] or {}
        for key in ("per_minute", "per_hour"):
            if key in limits:
                account.rate_limit[key] = as_int(limits[key], "rate_limit." + key)
    if "gc" in data:
        for key, value in ((data["gc"] or {}).get("phase_seconds") or {}).items():
            account.phase_seconds[gcs.phase_configuration(account.phase_seconds, key)] = float(value)
    if "doks_registry_enabled" in data:
        reading = data["doks_registry_enabled"]
        if reading not in DOKS_READINGS:
            raise ValueError("doks_registry_enabled must be one of %s, got %r" % (", ".join(DOKS_READINGS), reading))
        account.doks_reading = reading
    if "tokens" in data:
        tokens = data["tokens"]
        if tokens is None:
            account.tokens = None
        else:
            account.tokens = {}
            for entry in tokens:
                if isinstance(entry, str):
                    entry = {"token": entry}
                account.tokens[str(entry["token"])] = {"read_only": bool(entry.get("read_only", False))}


def set_clock(clock, data):
    """``{"advance": seconds, "speed": factor, "step": seconds}`` (each optional), as a seed or ``/_sim/clock``."""
    if "advance" in data:
        clock.advance(float(data["advance"]))
    if "speed" in data:
        clock.set_speed(float(data["speed"]))
    if "step" in data:
        clock.set_step(float(data["step"]))


SEED_KEYS = {"subscription_tier", "taken_names", "tokens", "rate_limit", "gc", "registries", "clusters", "clock",
             "doks_registry_enabled"}


def load_seed(account, clock, seed):
    """Load a seed document (see README.md) into a fresh account. Raises ValueError with a clear message."""
    if not isinstance(seed, dict):
        raise ValueError("a seed must be a JSON/YAML mapping")
    unknown = set(seed) - SEED_KEYS
    if unknown:
        raise ValueError("unknown seed keys: %s" % ", ".join(sorted(unknown)))
    now = clock.now()  # seeded objects are stamped before a seeded clock jump: they look that much older
    configure(account, seed)
    set_clock(clock, seed.get("clock") or {})
    tier = seed.get("subscription_tier")
    if tier is not None:
        if tier not in TIER_BY_SLUG:
            raise ValueError("unknown subscription_tier %r" % tier)
        account.subscription = {"tier_slug": tier, "created_at": now, "updated_at": now}
    account.taken_names = set(str(name) for name in seed.get("taken_names") or [])
    for spec in seed.get("registries") or []:
        if account.dataplane is not None and spec.get("repositories"):
            raise ValueError("with --data-plane, seed registries without repositories and push real images")
        _seed_registry(account, spec, now, clock.now())
    if account.registries and account.subscription is None:
        account.subscription = {"tier_slug": "professional" if len(account.registries) > 1 else "basic",
                                "created_at": now, "updated_at": now}
    for spec in seed.get("clusters") or []:
        _seed_cluster(account, spec, now)


def _seed_registry(account, spec, now, usage_time):
    name = spec.get("name")
    if not name or not NAME_RE.match(str(name)):
        raise ValueError("registry name %r breaks the naming rule %s" % (name, NAME_RULE))
    region = spec.get("region", DEFAULT_REGION)
    if region not in REGIONS:
        raise ValueError("registry %s: unknown region %r" % (name, region))
    created = parse_iso(spec["created_at"]) if spec.get("created_at") else now
    registry = account.new_registry(name, region, created)
    for repo_spec in spec.get("repositories") or []:
        repo_name = repo_spec.get("name")
        if not repo_name or not REPOSITORY_RE.match(str(repo_name)):
            raise ValueError("registry %s: bad repository name %r" % (name, repo_name))
        repo = registry["repositories"].setdefault(repo_name, {"name": repo_name, "manifests": {}, "tags": {}})
        for index, man_spec in enumerate(repo_spec.get("manifests") or []):
            _seed_manifest(registry, repo, man_spec, now - (len(repo_spec["manifests"]) - index))
            registry["usage_updated_at"] = usage_time
    account.registries[name] = registry


def _seed_manifest(registry, repo, spec, default_time):
    digest = spec.get("digest") or fake_digest(registry["name"], repo["name"])
    updated = parse_iso(spec["updated_at"]) if spec.get("updated_at") else default_time
    blobs = []
    for blob in spec.get("blobs") or []:
        size = as_int(blob.get("compressed_size_bytes", blob.get("size_bytes", 0)), "blob compressed_size_bytes")
        blobs.append({"digest": blob.get("digest") or fake_digest("blob"), "compressed_size_bytes": size})
    if not blobs:
        size = as_int(spec.get("compressed_size_bytes", spec.get("size_bytes", 1000)), "manifest size_bytes")
        blobs.append({"digest": fake_digest("blob", digest), "compressed_size_bytes": size})
    compressed = sum(blob["compressed_size_bytes"] for blob in blobs)
    size_bytes = as_int(spec.get("size_bytes", compressed), "manifest size_bytes")
    for blob in blobs:
        registry["blobs"][blob["digest"]] = blob["compressed_size_bytes"]
    repo["manifests"][digest] = {"digest": digest, "size_bytes": size_bytes, "blobs": blobs, "updated_at": updated}
    for tag in spec.get("tags") or []:
        repo["tags"][str(tag)] = {"digest": digest, "updated_at": updated}


def _seed_cluster(account, spec, now):
    cluster_id = str(spec.get("id") or uuid.uuid4())
    if not UUID_RE.match(cluster_id):
        raise ValueError("cluster id %r must be a lowercase UUID (the spec declares format: uuid)" % cluster_id)
    registries = list(spec.get("registries") or [])
    for name in registries:
        if name not in account.registries:
            raise ValueError("cluster %s lists unknown registry %r" % (cluster_id, name))
    account.clusters[cluster_id] = {
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
        "node_count": as_int(spec.get("node_count", 3), "node_count", 1),
    }


# ---------------------------------------------------------------------- GC control and the state dump

def gc_control(account, body):
    """``POST /_sim/gc``: ``next_outcome: failed`` and/or ``force_status``."""
    name = body.get("registry")
    if name not in account.registries:
        raise not_found("registry %r not found" % (name,))
    result = {"registry": name}
    if "next_outcome" in body:
        if body["next_outcome"] == "failed":
            account.fail_next_gc.add(name)
        elif body["next_outcome"] in (None, "succeeded"):
            account.fail_next_gc.discard(name)
        else:
            raise ApiError(400, "next_outcome must be 'failed' or 'succeeded'")
    if "force_status" in body:
        gc = account.active_gc(name)
        if gc is None:
            raise ApiError(409, "no active garbage collection to force for registry %s" % name)
        status = str(body["force_status"])
        now = account.now()
        gc.update(status=status, phase_started=now, updated_at=now)
        # A forced status outside the state machine freezes the GC until it is cancelled or forced again.
        gc["forced"] = status not in gcs.SPEC_STATUSES
        if status == "succeeded":
            gc["status"] = gcs.PHASES[-1]
            account.finish_gc(gc)
        result["garbage_collection"] = account.gc_view(gc)
    result["fail_next_gc"] = name in account.fail_next_gc
    return 200, result


def state(account, clock):
    """``GET /_sim/state``: the whole account, as tests assert it. A pure read."""
    registries = []
    for name in sorted(account.registries):
        registry = account.registries[name]
        view = account.registry_view(registry)
        view["read_only"] = account.read_only(name)
        view["blobs"] = dict(registry["blobs"])
        view["referenced_blobs"] = sorted(account.referenced_blobs(registry))
        repos = []
        for repo_name in sorted(registry["repositories"]):
            repo = registry["repositories"][repo_name]
            repos.append({"name": repo_name,
                          "manifests": [account.manifest_view(registry, repo, man)
                                        for man in account.sorted_manifests(repo)],
                          "tags": dict((tag, info["digest"]) for tag, info in sorted(repo["tags"].items()))})
        view["repositories"] = repos
        registries.append(view)
    sub = None
    if account.subscription is not None:
        sub = {"tier_slug": account.subscription["tier_slug"], "tier": account.subscription["tier_slug"],
               "created_at": iso(account.subscription["created_at"]), "updated_at": iso(account.subscription["updated_at"])}
    gc_views = []
    for gc in sorted(account.gcs, key=lambda item: item["created_at"], reverse=True):
        view = account.gc_view(gc)
        view["type"] = gc["type"]
        gc_views.append(view)
    now = account.now()
    creds = []
    for cred in sorted(account.credentials.values(), key=lambda item: item["issued_at"]):
        creds.append({"user": cred["user"], "registry": cred["registry"], "read_write": cred["read_write"],
                      "issued_at": iso(cred["issued_at"]),
                      "expires_at": iso(cred["expires_at"]) if cred["expires_at"] is not None else None,
                      "expired": cred["expires_at"] is not None and now >= cred["expires_at"]})
    return {
        "clock": clock.describe(),
        "subscription": sub,
        "taken_names": sorted(account.taken_names),
        "registries": registries,
        "clusters": [account.cluster_view(cluster)
                     for cluster in sorted(account.clusters.values(), key=lambda c: c["name"])],
        "gcs": gc_views,
        "fail_next_gc": sorted(account.fail_next_gc),
        "credentials": creds,
        "tokens": copy.deepcopy(account.tokens),
        "rate_limit": dict(account.rate_limit),
        "gc_phase_seconds": dict(account.phase_seconds),
        "doks_registry_enabled": account.doks_reading,
    }


# ---------------------------------------------------------------------- the endpoints

# Endpoints that read or change the account: the account is brought to the simulated clock's time first.
# (``/_sim/config`` moves the account after configuring it: new GC phase durations apply to what has elapsed.)
_ACCOUNT_ENDPOINTS = {("GET", "/_sim/state"), ("POST", "/_sim/push"), ("POST", "/_sim/gc")}


def handle(sim, method, path, data):  # pylint: disable=too-many-return-statements,too-many-branches
    """One admin call, with ``sim.lock`` held. Returns ``(status, body)``; raises ApiError or ValueError."""
    key = (method, path.rstrip("/"))
    account, clock = sim.account, sim.clock
    if key in _ACCOUNT_ENDPOINTS:
        sim.advance()
    if key == ("POST", "/_sim/reset"):
        sim.reset()
        return 200, {"ok": True}
    if key == ("POST", "/_sim/seed"):
        sim.seed(data)
        sim.advance()
        return 200, state(account, clock)
    if key == ("GET", "/_sim/state"):
        return 200, state(account, clock)
    if key == ("GET", "/_sim/requests"):
        return 200, {"requests": list(sim.log), "in_flight": sim.in_flight, "held": len(sim.held)}
    if key == ("DELETE", "/_sim/requests"):
        sim.log = []
        return 200, {"ok": True}
    if key == ("POST", "/_sim/release"):
        return 200, {"released": sim.release()}
    if key == ("POST", "/_sim/faults"):
        return 200, {"fault": sim.faults.add(data)}
    if key == ("GET", "/_sim/faults"):
        return 200, {"faults": list(sim.faults.rules)}
    if key == ("DELETE", "/_sim/faults"):
        sim.faults = Faults()
        return 200, {"ok": True}
    if key == ("POST", "/_sim/clock"):
        sim.advance()  # observe what happened before the jump (data-plane pushes) at the old time
        set_clock(clock, data)
        sim.advance()
        return 200, clock.describe()
    if key == ("GET", "/_sim/clock"):
        return 200, clock.describe()
    if key == ("POST", "/_sim/push"):
        return account.push(data)
    if key == ("POST", "/_sim/gc"):
        return gc_control(account, data)
    if key == ("GET", "/_sim/dataplane"):
        if sim.dataplane is None:
            raise ApiError(404, "no data plane: start the simulator with --data-plane distribution")
        return 200, {"address": sim.dataplane.address, "storage": sim.dataplane.root,
                     "tokens": list(sim.dataplane.tokens.issued)}
    if key == ("POST", "/_sim/config"):
        configure(account, data)
        sim.advance()
        return 200, state(account, clock)
    return 404, {"id": "not_found", "message": "unknown admin endpoint %s %s" % key}
