"""HTTP layer of the simulator: routing, auth, rate limits and their headers, faults, request log, recording.

The state and the API's rules live in model.py (and the GC state machine in gc.py); the ``/_sim/*`` admin
endpoints in admin.py; paging of lists in paging.py. Time reaches the account in one place,
:meth:`Simulator.advance`, called once per request before it is dispatched: reads in the model never move
the account along the clock.
"""

import collections
import email.utils
import ipaddress
import json
import math
import re
import socket
import threading
import time
import uuid

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from . import admin
from .admin import Faults
from .clock import SimClock, iso
from .errors import ERROR_IDS, ApiError
from .gc import SPEC_STATUSES as GC_SPEC_STATUSES
from .model import Account
from .paging import numbered, tokenised

# A test that sends a request the spec forbids on purpose (to prove the simulator refuses it) sets this
# header; the exchange is then marked ``invalid_on_purpose`` for the contract check (tests/simulator/contract.py).
INVALID_ON_PURPOSE_HEADER = "X-Sim-Invalid-On-Purpose"


class RateLimiter:
    """Per-token sliding windows, as DigitalOcean documents its limits.

    Each request expires on its own, an hour (and, for the burst limit, a minute) after it was made. The
    headers describe the hourly quota: ``ratelimit-remaining`` is what is left of it and ``ratelimit-reset``
    the Unix time when the oldest counted request expires. A request over the per-minute burst limit gets a
    429 with ``Retry-After`` (the seconds until the minute's oldest request expires); one over the hourly
    limit gets a 429 without it (``ratelimit-reset`` says when a request frees up). A refused request is not
    counted (an assumption: see README.md).
    """

    def __init__(self, clock):
        self.clock = clock
        self.reset()

    def reset(self):
        self.minute = collections.defaultdict(collections.deque)
        self.hour = collections.defaultdict(collections.deque)

    def hit(self, token, per_minute, per_hour):
        """Count one request. Return ``(headers, limited, retry_after)``.

        ``limited`` is None when allowed, else ``"burst"`` or ``"hourly"``; ``retry_after`` is set on a burst only.
        """
        now = self.clock.now()
        minute, hour = self.minute[token], self.hour[token]
        while minute and minute[0] <= now - 60:
            minute.popleft()
        while hour and hour[0] <= now - 3600:
            hour.popleft()
        limited = retry_after = None
        if per_minute and len(minute) >= per_minute:
            limited = "burst"
            retry_after = max(1, int(math.ceil(minute[0] + 60 - now)))
        elif per_hour and len(hour) >= per_hour:
            limited = "hourly"
        if limited is None:
            minute.append(now)
            hour.append(now)
        limit = per_hour or 5000
        headers = {
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": str(max(0, limit - len(hour))),
            "ratelimit-reset": str(int(math.ceil(hour[0] + 3600)) if hour else int(math.ceil(now))),
        }
        return headers, limited, retry_after


def _route(pattern):
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
    return re.compile("^" + regex + "$")


class Simulator:
    """Everything the request handler needs, shared by all threads."""

    def __init__(self, record=None):
        self.lock = threading.RLock()
        self.clock = SimClock()
        self.account = Account(self.clock)
        self.limiter = RateLimiter(self.clock)
        self.faults = Faults()
        self.log = []
        self.record_path = record
        self.record_lock = threading.Lock()
        self.routes = self._routes()
        self.dataplane = None
        # /v2 requests being served (a fault's latency holds one): tests wait for 0 instead of sleeping
        self.in_flight = 0
        self.flight_lock = threading.Lock()
        # requests stopped by a `hold` fault until POST /_sim/release: tests order concurrent events by
        # what happened, not by sleeping
        self.held = []

    def attach_dataplane(self, dataplane):
        """Put a real registry (dataplane.py) behind the account; the simulator becomes its token server."""
        with self.lock:
            self.dataplane = self.account.dataplane = dataplane

    def hold(self, limit=60.0):
        """Stop this request's thread until ``release`` (or ``limit`` seconds, so nothing hangs for ever)."""
        event = threading.Event()
        with self.flight_lock:
            self.held.append(event)
        try:
            event.wait(limit)
        finally:
            with self.flight_lock:
                if event in self.held:
                    self.held.remove(event)

    def release(self):
        with self.flight_lock:
            held, self.held = self.held, []
        for event in held:
            event.set()
        return len(held)

    def reset(self):
        self.release()
        with self.lock:
            self.clock.reset()
            self.account.reset()
            self.limiter.reset()
            self.faults = Faults()
            self.log = []
            if self.dataplane is not None:
                self.dataplane.wipe()

    def seed(self, data):
        with self.lock:
            self.reset()
            admin.load_seed(self.account, self.clock, data)

    def advance(self):
        """Bring the account to the simulated clock's time: the ONE place time reaches the model.

        Called once per request, before it is dispatched (``dispatch``, the registry token endpoint, and the
        admin endpoints that read or change the account). A stepping clock has already moved on arrival.
        """
        with self.lock:
            self.account.advance_to(self.clock.now())

    def record(self, exchange):
        if not self.record_path:
            return
        line = json.dumps(exchange, sort_keys=True) + "\n"
        with self.record_lock:
            with open(self.record_path, "a", encoding="utf-8") as handle:
                handle.write(line)

    # ------------------------------------------------------------------ /v2 routes

    def _routes(self):
        account = self.account
        only = account.only_registry
        # The same operations on a named registry, under /v2/registries/{registry_name} and under the deprecated
        # /v2/registry/{registry_name}.
        named = [
            ("GET", "/garbage-collection", lambda r: account.get_active_gc(r.arg("registry_name"))),
            ("POST", "/garbage-collection", lambda r: account.start_gc(r.arg("registry_name"), r.body)),
            ("GET", "/garbage-collections",
             lambda r: r.numbered("garbage_collections", account.list_gcs(r.arg("registry_name")))),
            ("PUT", "/garbage-collection/{uuid}",
             lambda r: account.update_gc(r.arg("registry_name"), r.arg("uuid"), r.body)),
            ("GET", "/repositoriesV2",
             lambda r: r.tokenised("repositories", account.list_repositories_v2(r.arg("registry_name")))),
            ("GET", "/repositories/{repo}/tags",
             lambda r: r.numbered("tags", account.list_tags(r.arg("registry_name"), r.arg("repo")))),
            ("DELETE", "/repositories/{repo}/tags/{tag}",
             lambda r: account.delete_tag(r.arg("registry_name"), r.arg("repo"), r.arg("tag"))),
            ("GET", "/repositories/{repo}/digests",
             lambda r: r.numbered("manifests", account.list_manifests(r.arg("registry_name"), r.arg("repo")))),
            ("DELETE", "/repositories/{repo}/digests/{digest}",
             lambda r: account.delete_manifest(r.arg("registry_name"), r.arg("repo"), r.arg("digest"))),
        ]
        table = [
            ("GET", "/v2/registries", lambda r: account.list_registries()),
            ("POST", "/v2/registries", lambda r: account.create_registry(r.body)),
            ("GET", "/v2/registries/subscription", lambda r: account.get_subscription()),
            ("POST", "/v2/registries/subscription", lambda r: account.update_subscription(r.body)),
            ("GET", "/v2/registries/options", lambda r: account.options()),
            ("POST", "/v2/registries/validate-name", lambda r: account.validate_name(r.body)),
            ("GET", "/v2/registries/{registry_name}", lambda r: account.get_registry(r.arg("registry_name"))),
            ("DELETE", "/v2/registries/{registry_name}", lambda r: account.delete_registry(r.arg("registry_name"))),
            # The spec declares read_write / expiry_seconds only on the legacy endpoint; the real API accepts
            # them here too, so the simulator honours them.
            ("GET", "/v2/registries/{registry_name}/docker-credentials",
             lambda r: account.docker_credentials(r.arg("registry_name"), r.query)),
            ("DELETE", "/v2/registries/{registry_name}/repositories/{repo}",
             lambda r: account.delete_repository(r.arg("registry_name"), r.arg("repo"))),
            # Legacy single-registry API (deprecated upstream).
            ("GET", "/v2/registry", lambda r: account.get_registry(only())),
            ("POST", "/v2/registry", lambda r: account.create_registry(r.body)),
            ("DELETE", "/v2/registry", lambda r: account.delete_registry(only())),
            ("GET", "/v2/registry/subscription", lambda r: account.get_subscription()),
            ("POST", "/v2/registry/subscription", lambda r: account.update_subscription(r.body, legacy=True)),
            ("GET", "/v2/registry/options", lambda r: account.options()),
            ("GET", "/v2/registry/docker-credentials", lambda r: account.docker_credentials(only(), r.query)),
            ("POST", "/v2/registry/validate-name", lambda r: account.validate_name(r.body)),
            ("GET", "/v2/registry/{registry_name}/repositories",
             lambda r: r.numbered("repositories", account.list_repositories_v1(r.arg("registry_name")))),
            # DOKS
            ("GET", "/v2/kubernetes/clusters", lambda r: r.numbered("kubernetes_clusters", account.list_clusters())),
            ("GET", "/v2/kubernetes/clusters/{cluster_id}", lambda r: account.get_cluster(r.arg("cluster_id"))),
            ("POST", "/v2/kubernetes/registries", lambda r: account.cluster_registries(r.body, add=True)),
            ("DELETE", "/v2/kubernetes/registries", lambda r: account.cluster_registries(r.body, add=False)),
            ("POST", "/v2/kubernetes/registry", lambda r: account.cluster_registries(r.body, add=True, legacy=True)),
            ("DELETE", "/v2/kubernetes/registry", lambda r: account.cluster_registries(r.body, add=False, legacy=True)),
        ]
        table += [(method, prefix + "/{registry_name}" + suffix, handler)
                  for prefix in ("/v2/registries", "/v2/registry") for method, suffix, handler in named]
        return [(method, _route(pattern), handler) for method, pattern, handler in table]

    def dispatch(self, req):
        """Find the route for a /v2 request; bring the account to the clock's time and run it, under the lock."""
        path_matched = False
        for method, regex, handler in self.routes:
            match = regex.match(req.raw_path)
            if not match:
                continue
            path_matched = True
            if method != req.method:
                continue
            req.args = dict((key, unquote(value)) for key, value in match.groupdict().items())
            with self.lock:
                self.advance()
                return handler(req)
        if path_matched:
            raise ApiError(405, "method %s is not allowed on %s" % (req.method, req.raw_path))
        raise ApiError(404, "The resource you were accessing could not be found.")


class ApiRequest:
    """What a route handler sees."""

    def __init__(self, method, raw_path, query, body, base):
        self.method = method
        self.raw_path = raw_path
        self.path = raw_path
        self.query = query
        self.body = body
        self.base = base
        self.args = {}

    def arg(self, name):
        return self.args[name]

    def numbered(self, collection, items):
        """A page/per_page answer of the model's whole list ``items``."""
        return numbered(collection, items, self.query, self.base, self.path)

    def tokenised(self, collection, items):
        """A ``page_token`` answer of the model's whole list ``items`` (the cursor is the item's ``name``)."""
        return tokenised(collection, items, lambda item: item["name"], self.query, self.base, self.path)


class Handler(BaseHTTPRequestHandler):
    """One HTTP exchange. ``self.server.sim`` is the shared :class:`Simulator`."""

    protocol_version = "HTTP/1.1"
    server_version = "docr-simulator/1.0"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def setup(self):
        BaseHTTPRequestHandler.setup(self)
        # Headers and body are written separately: without TCP_NODELAY, Nagle plus delayed ACKs add ~40 ms a request.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Quiet: the request log is available from /_sim/requests."""

    def date_time_string(self, timestamp=None):
        """The ``Date`` header comes from the simulated clock."""
        return email.utils.formatdate(self.server.sim.clock.now() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
        self._handle()

    def do_POST(self):  # noqa: N802  pylint: disable=invalid-name
        self._handle()

    def do_PUT(self):  # noqa: N802  pylint: disable=invalid-name
        self._handle()

    def do_DELETE(self):  # noqa: N802  pylint: disable=invalid-name
        self._handle()

    def do_PATCH(self):  # noqa: N802  pylint: disable=invalid-name
        self._handle()

    # ------------------------------------------------------------------ plumbing

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status, body, headers=None):
        data = b""
        if body is not None and status != 204:
            data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if status != 204:
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)
        return data

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self):
        sim = self.server.sim
        split = urlsplit(self.path)
        raw = self._read_body()
        if split.path.startswith("/_sim/") or split.path == "/_sim":
            self._admin(sim, split, raw)
        elif split.path == "/v2" or split.path.startswith("/v2/"):
            with sim.flight_lock:
                sim.in_flight += 1
            try:
                self._api(sim, split, raw)
            finally:
                with sim.flight_lock:
                    sim.in_flight -= 1
        elif split.path == "/registry/token" and sim.dataplane is not None and self.command == "GET":
            with sim.lock:
                sim.advance()
                status, body = sim.dataplane.tokens.answer(sim.account, self.headers.get("Authorization"),
                                                           parse_qsl(split.query, keep_blank_values=True))
            self._send(status, body, {"WWW-Authenticate": 'Basic realm="docr-simulator"'} if status == 401 else None)
        else:
            self._send(404, {"id": "not_found", "message": "not simulated: %s" % split.path})

    # ------------------------------------------------------------------ /v2

    def _api(self, sim, split, raw):  # pylint: disable=too-many-locals,too-many-branches,too-many-statements
        request_id = str(uuid.uuid4())
        method = self.command
        pairs = parse_qsl(split.query, keep_blank_values=True)
        query = dict(pairs)
        host = self.headers.get("Host") or "%s:%s" % self.server.server_address[:2]
        req = ApiRequest(method, split.path, query, {}, "http://" + host)
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        notes = []
        if self.headers.get(INVALID_ON_PURPOSE_HEADER):
            notes.append("invalid_on_purpose")
        sim.clock.on_request()  # a stepping clock (POST /_sim/clock {"step": N}) moves N seconds per request

        with sim.lock:
            limits = dict(sim.account.rate_limit)
            rl_headers, limited, retry_after = sim.limiter.hit(token, limits["per_minute"], limits["per_hour"])
            fault = sim.faults.take(method, split.path) if limited is None else None
        headers = {"x-request-id": request_id}
        headers.update(rl_headers)

        status, body, dropped = None, None, False
        if limited is not None:
            status, body = 429, {"id": "too_many_requests", "message": "API rate limit exceeded."}
            if retry_after is not None:  # the per-minute burst limit only
                headers["Retry-After"] = str(retry_after)
        if fault and fault.get("latency"):
            time.sleep(float(fault["latency"]))
        if fault and fault.get("hold"):
            sim.hold()
        if fault and not fault.get("after") and (fault.get("status") or fault.get("drop")):
            status, body, dropped = self._fault_response(fault, headers)
            notes.append("fault")
        if status is None and not dropped:  # a drop without `after` never reaches the account
            status, body = self._serve(sim, req, raw, token, headers)
            if body is not None and isinstance(body, dict) and "garbage_collection" in body:
                if body["garbage_collection"].get("status") not in GC_SPEC_STATUSES:
                    notes.append("forced_gc_status")
            if fault and fault.get("after") and (fault.get("status") or fault.get("drop")):
                status, body, dropped = self._fault_response(fault, headers)
                notes.append("fault")
                notes.append("fault_after")
        if isinstance(body, dict) and status >= 400 and "id" in body:
            body.setdefault("request_id", request_id)

        sent_headers = dict(headers)
        data = b""
        if not dropped:
            sent_headers["Date"] = self.date_time_string()
            if status != 204:
                sent_headers["Content-Type"] = "application/json; charset=utf-8"
                data = json.dumps(body).encode("utf-8") if body is not None else b""
        # Log and record before answering: a client that reads the log right after its response must see it.
        with sim.lock:
            sim.log.append({"method": method, "path": split.path, "query": query,
                            "status": None if dropped else status, "time": iso(sim.clock.now())})
        sim.record({
            "method": method, "path": split.path, "query": [list(pair) for pair in pairs],
            "request_headers": {"content-type": self.headers.get("Content-Type") or "",
                                "authorization": "Bearer ***" if token else ""},
            "request_body": raw.decode("utf-8", "replace") if raw else None,
            "status": None if dropped else status,
            "response_headers": {} if dropped else sent_headers,
            "response_body": data.decode("utf-8", "replace") if data else None,
            "dropped": dropped, "notes": notes,
        })
        if dropped:
            self._drop()
        else:
            self._send(status, body, headers)

    @staticmethod
    def _fault_response(fault, headers):
        if fault.get("drop"):
            return None, None, True
        status = int(fault["status"])
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        message = fault.get("message") or ("API rate limit exceeded." if status == 429 else "injected fault (HTTP %d)" % status)
        return status, {"id": ERROR_IDS.get(status, "error"), "message": message}, False

    @staticmethod
    def _serve(sim, req, raw, token, headers):
        if not token:
            return 401, {"id": "unauthorized", "message": "Unable to authenticate you."}
        tokens = sim.account.tokens
        if tokens is not None:
            entry = tokens.get(token)
            if entry is None:
                return 401, {"id": "unauthorized", "message": "Unable to authenticate you."}
            if entry["read_only"] and req.method != "GET":
                return 403, {"id": "forbidden", "message": "You do not have access for the attempted action."}
        if raw.strip():
            try:
                req.body = json.loads(raw.decode("utf-8"))
            except ValueError:
                return 400, {"id": "bad_request", "message": "the request body is not valid JSON"}
            if not isinstance(req.body, dict):
                return 400, {"id": "bad_request", "message": "the request body must be a JSON object"}
        try:
            status, body = sim.dispatch(req)
        except ApiError as err:
            return err.status, {"id": err.error_id, "message": err.message}
        except Exception as err:  # pylint: disable=broad-except
            headers["x-simulator-error"] = type(err).__name__
            return 500, {"id": "server_error", "message": "simulator bug: %s: %s" % (type(err).__name__, err)}
        return status, body

    # ------------------------------------------------------------------ /_sim admin

    def _admin(self, sim, split, raw):
        try:
            data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except ValueError:
            self._send(400, {"error": "body is not JSON"})
            return
        try:
            with sim.lock:
                status, body = admin.handle(sim, self.command, split.path, data)
        except ApiError as err:
            status, body = err.status, {"id": err.error_id, "message": err.message, "error": err.message}
        except (ValueError, KeyError, TypeError) as err:
            status, body = 400, {"id": "bad_request", "message": str(err), "error": str(err)}
        self._send(status, body)


class SimServer(ThreadingHTTPServer):
    """A threading HTTP server that only binds loopback addresses."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host, port, sim):
        if not is_loopback(host):
            raise ValueError("refusing to bind %r: the simulator only listens on loopback addresses" % host)
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.sim = sim
        ThreadingHTTPServer.__init__(self, (host, port), Handler)

    @property
    def url(self):
        host, port = self.server_address[:2]
        if ":" in host:
            host = "[%s]" % host
        return "http://%s:%d" % (host, port)


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
