"""Validate recorded /v2 exchanges against the official OpenAPI spec subset (used by tests/conftest.py).

Only test code imports this module: it needs openapi-core, the simulator itself does not.

Rules, on top of what openapi-core checks (request parameters, security, request bodies, response
status / body / declared headers):

- every response carries integer ``ratelimit-limit``, ``ratelimit-remaining`` and ``ratelimit-reset``
  headers, and a JSON ``Content-Type`` when it has a body;
- a request parameter in the query that the operation does not declare is a violation, and so is a
  request body sent to an operation that declares none (openapi-core ignores both);
- a request that does not validate is fine only when the simulator refused it (4xx): the server
  rightly rejected what the spec forbids. Served anyway (2xx) it is a violation;
- a path that is not in the spec is a violation.

The known, allowed extras (each one is a real-API behaviour the spec omits):

- ``POST /v2/registries/{registry_name}/garbage-collection`` with body ``{"type": ...}``: the real API
  accepts a GC type there although the spec declares no body (the legacy endpoint declares it);
- ``GET /v2/registries/{registry_name}/docker-credentials?read_write=&expiry_seconds=``: declared only on
  the legacy endpoint, accepted by the real API on the new one;
- a GC status forced by the admin API (``POST /_sim/gc {"force_status": ...}``) that is not in the spec's
  enum: the simulator marks those exchanges; the status field alone is exempt, the rest is validated;
- an admin-injected fault whose status the operation does not declare (and that has no ``default``
  response): tests inject such statuses on purpose to exercise client error handling;
- an exchange whose connection was dropped on purpose has no response to validate.
"""

import json
import re
from pathlib import Path

SPEC_FILE = "registry-subset.bundled.json"
SERVER = "https://api.digitalocean.com"
RATE_LIMIT_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
GC_TYPES = ("untagged_manifests_only", "unreferenced_blobs_only", "untagged_manifests_and_unreferenced_blobs")
# (method, path template) -> extra query parameters the real API accepts beyond the spec.
EXTRA_QUERY = {("get", "/v2/registries/{registry_name}/docker-credentials"): {"read_write", "expiry_seconds"}}
# (method, path template) -> validator of a body the spec does not declare but the real API accepts.
GC_RUN = ("post", "/v2/registries/{registry_name}/garbage-collection")


def spec_dir(repo_root):
    """``<repo>/tests/openapi``: the folder holding the official spec subset (see its SOURCE.md)."""
    return Path(repo_root).resolve() / "tests" / "openapi"


def load_spec(path):
    """Load the bundled spec from a folder or a file. Raises FileNotFoundError when it is missing."""
    path = Path(path)
    if path.is_dir():
        path = path / SPEC_FILE
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def read_record(path):
    """The exchanges of a ``--record`` JSONL file."""
    exchanges = []
    path = Path(path)
    if not path.exists():
        return exchanges
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                exchanges.append(json.loads(line))
    return exchanges


def _gc_type_body(body):
    if body is None:
        return None
    if not isinstance(body, dict) or set(body) - {"type"}:
        return "only {\"type\": ...} is accepted as an (unofficial) GC body, got %r" % (body,)
    if "type" in body and str(body["type"]).replace(" ", "_") not in GC_TYPES:
        return "unknown GC type %r" % (body["type"],)
    return None


class ContractValidator:
    """Checks one exchange at a time against the spec subset."""

    def __init__(self, spec):
        from openapi_core import OpenAPI  # pylint: disable=import-outside-toplevel
        self.spec = spec
        self.api = OpenAPI.from_dict(spec)
        self.templates = []
        for template, item in spec["paths"].items():
            regex = re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", template) + "$")
            self.templates.append((template.count("{"), template, regex, item))
        self.templates.sort(key=lambda entry: (entry[0], entry[1]))

    def operation(self, method, path):
        """``(template, operation)`` for a concrete path (literal segments win), or ``(None, None)``."""
        for _count, template, regex, item in self.templates:
            if regex.match(path) and method.lower() in item:
                return template, item[method.lower()]
        return None, None

    def check(self, exchange):
        """Return ``(errors, skip_reason)`` for one recorded exchange."""
        # pylint: disable=import-outside-toplevel,too-many-locals,too-many-branches
        from openapi_core.testing import MockRequest, MockResponse

        method = exchange["method"].lower()
        path = exchange["path"]
        status = exchange.get("status")
        notes = exchange.get("notes") or []
        if exchange.get("dropped"):
            return [], "connection dropped on purpose by an injected fault: no response to validate"
        template, operation = self.operation(method, path)
        if operation is None:
            return ["%s %s is not an operation of the spec subset" % (method.upper(), path)], None
        declared = set(str(code) for code in operation.get("responses", {}))
        if "fault" in notes and str(status) not in declared and "default" not in declared:
            return [], "admin-injected fault with status %s, which %s %s does not declare" % (status, method.upper(), template)

        errors = []
        refused = status is not None and 400 <= int(status) < 500
        query = exchange.get("query") or []
        allowed = set(param["name"] for param in operation.get("parameters", []) if param.get("in") == "query")
        allowed |= EXTRA_QUERY.get((method, template), set())
        for name, _value in query:
            if name not in allowed and not refused:
                errors.append("undeclared query parameter %r" % name)

        raw_body = exchange.get("request_body")
        body_bytes = raw_body.encode("utf-8") if raw_body else None
        if body_bytes and "requestBody" not in operation:
            if (method, template) == GC_RUN:
                try:
                    problem = _gc_type_body(json.loads(raw_body))
                except ValueError:
                    problem = "request body is not JSON"
                if problem and not refused:
                    errors.append(problem)
            elif not refused:
                errors.append("a request body was sent to an operation that declares none")
            body_bytes = None

        headers = {}
        if (exchange.get("request_headers") or {}).get("authorization"):
            headers["Authorization"] = "Bearer ***"
        args = {}
        for name, value in query:
            args[name] = value
        request = MockRequest(SERVER, method, path, args=args, headers=headers, data=body_bytes,
                              content_type=(exchange.get("request_headers") or {}).get("content-type") or "application/json")
        try:
            self.api.validate_request(request)
        except Exception as err:  # pylint: disable=broad-except
            if not refused:
                errors.append("request: %s: %s" % (type(err).__name__, _describe(err)))

        response_headers = dict((key.lower(), value) for key, value in (exchange.get("response_headers") or {}).items())
        for name in RATE_LIMIT_HEADERS:
            value = response_headers.get(name)
            if value is None or not re.match(r"^-?\d+$", str(value)):
                errors.append("response header %s missing or not an integer (%r)" % (name, value))
        body_text = exchange.get("response_body")
        skip = None
        data = body_text.encode("utf-8") if body_text else b""
        if body_text:
            if "json" not in response_headers.get("content-type", ""):
                errors.append("response body without a JSON content-type")
            if "forced_gc_status" in notes:
                # The admin API forced a status outside the spec's enum on purpose: exempt that one field.
                document = json.loads(body_text)
                gc = document.get("garbage_collection") or {}
                skip = "admin-forced GC status %r is not in the spec enum: that field alone was not validated" % gc.get("status")
                gc["status"] = "requested"
                data = json.dumps(document).encode("utf-8")
        response = MockResponse(data, status_code=int(status), headers=response_headers,
                                content_type=response_headers.get("content-type", "application/json").split(";")[0])
        try:
            self.api.validate_response(request, response)
        except Exception as err:  # pylint: disable=broad-except
            errors.append("response: %s: %s" % (type(err).__name__, _describe(err)))
        return errors, (skip if not errors else None)


def _describe(err):
    parts = [str(err)]
    cause = err.__cause__
    while cause is not None and len(parts) < 4:
        parts.append(str(cause))
        cause = cause.__cause__
    for nested in getattr(err, "schema_errors", None) or ():
        parts.append(getattr(nested, "message", str(nested)))
    return " | ".join(part for part in parts if part)[:1500]


class ContractReport:
    """What :func:`validate_exchanges` found."""

    def __init__(self):
        self.checked = 0
        self.violations = []
        self.skipped = []

    @property
    def ok(self):
        return not self.violations

    def lines(self):
        out = []
        for item in self.violations:
            out.append("CONTRACT VIOLATION %s %s -> %s: %s" % (item["method"], item["path"], item["status"], item["error"]))
        return out


def validate_exchanges(exchanges, spec):
    """Validate every exchange; ``spec`` is a loaded spec dict or a :class:`ContractValidator`."""
    validator = spec if isinstance(spec, ContractValidator) else ContractValidator(spec)
    report = ContractReport()
    for exchange in exchanges:
        report.checked += 1
        errors, skip = validator.check(exchange)
        where = {"method": exchange.get("method"), "path": exchange.get("path"), "status": exchange.get("status")}
        for error in errors:
            item = dict(where)
            item["error"] = error
            report.violations.append(item)
        if skip:
            item = dict(where)
            item["reason"] = skip
            report.skipped.append(item)
    return report
