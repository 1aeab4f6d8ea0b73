"""Validate recorded /v2 exchanges against the official OpenAPI spec subset (used by tests/conftest.py).

Only test code imports this module: it needs openapi-core, the simulator itself does not.

Rules, on top of what openapi-core checks (request parameters, security, request bodies, response
status / body / declared headers):

- every response carries integer ``ratelimit-limit``, ``ratelimit-remaining`` and ``ratelimit-reset``
  headers, and a JSON ``Content-Type`` when it has a body;
- a request parameter in the query that the operation does not declare is a violation, and so is a
  request body sent to an operation that declares none (openapi-core ignores both);
- a request the spec rejects is a violation, whatever the simulator answered: Prism calls it "Invalid
  request", and a refusal by the simulator proves nothing about the real API. The only exemption is a
  request a test sends on purpose to see the simulator refuse it: it carries the
  ``X-Sim-Invalid-On-Purpose`` header and is recorded with the note ``invalid_on_purpose``;
- a path that is not in the spec is a violation.
- (a request without credentials answered 401 is the spec's documented exchange, not a violation.)

The known, allowed extras (ALLOWED_QUERY and ALLOWED_BODY below; each one is a real-API behaviour the
spec omits, and each is checked against the schema the spec gives it elsewhere):

- ``POST /v2/registries/{registry_name}/garbage-collection`` with body ``{"type": ...}``: the real API
  accepts a GC type there although the spec declares no body (the legacy endpoint declares it, with the
  enum of spellings with spaces; godo and doctl send it on the new endpoint);
- ``GET /v2/registries/{registry_name}/docker-credentials?read_write=&expiry_seconds=``: declared only on
  the legacy endpoint, accepted by the real API on the new one (godo sends them there);
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
INVALID_ON_PURPOSE = "invalid_on_purpose"
# The allow-list. (method, path template) -> the operation whose declaration the extra borrows.
# Query parameters the real API accepts beyond the spec: the credentials endpoint of the multi-registry API
# takes the legacy endpoint's read_write / expiry_seconds (godo's RegistryDockerCredentialsRequest sends them).
ALLOWED_QUERY = {
    ("get", "/v2/registries/{registry_name}/docker-credentials"): ("get", "/v2/registry/docker-credentials"),
}
# A body the real API accepts although the spec declares none: the GC type on the multi-registry start
# (godo's StartGarbageCollectionRequest), validated against the legacy start's declared body.
ALLOWED_BODY = {
    ("post", "/v2/registries/{registry_name}/garbage-collection"): ("post", "/v2/registry/{registry_name}/garbage-collection"),
}
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


def _borrowed_body_problem(body, schema):
    """A problem with a body the allow-list admits, checked against the schema borrowed for it, or None."""
    properties = schema.get("properties") or {}
    if not isinstance(body, dict) or set(body) - set(properties):
        return "only %s accepted in this (allowed, undeclared) body, got %r" % (", ".join(sorted(properties)), body)
    for key, value in body.items():
        enum = properties[key].get("enum")
        if enum is not None and value not in enum:
            return "%s %r is not one of %s" % (key, value, ", ".join(repr(item) for item in enum))
    return None


def _borrowed_query_problem(name, value, schema):
    """A problem with an allowed extra query parameter's value, against its borrowed schema, or None."""
    kind = (schema or {}).get("type")
    if kind == "integer":
        if not re.match(r"^\d+$", str(value)) or int(value) < (schema.get("minimum") or 0):
            return "query parameter %s=%r is not an integer >= %s" % (name, value, schema.get("minimum") or 0)
    elif kind == "boolean" and str(value) not in ("true", "false"):
        return "query parameter %s=%r is not true or false" % (name, value)
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
        request_errors = []
        on_purpose = INVALID_ON_PURPOSE in notes
        query = exchange.get("query") or []
        declared_query = set(param["name"] for param in operation.get("parameters", []) if param.get("in") == "query")
        borrowed_query = {}
        if (method, template) in ALLOWED_QUERY:
            lender = self.spec["paths"][ALLOWED_QUERY[(method, template)][1]][ALLOWED_QUERY[(method, template)][0]]
            borrowed_query = dict((param["name"], param.get("schema")) for param in lender.get("parameters", [])
                                  if param.get("in") == "query")
        for name, value in query:
            if name in borrowed_query:
                problem = _borrowed_query_problem(name, value, borrowed_query[name])
                if problem:
                    request_errors.append(problem)
            elif name not in declared_query:
                request_errors.append("undeclared query parameter %r" % name)

        raw_body = exchange.get("request_body")
        body_bytes = raw_body.encode("utf-8") if raw_body else None
        if body_bytes and "requestBody" not in operation:
            if (method, template) in ALLOWED_BODY:
                lender_method, lender_path = ALLOWED_BODY[(method, template)][0], ALLOWED_BODY[(method, template)][1]
                schema = self.spec["paths"][lender_path][lender_method]["requestBody"]["content"]["application/json"]["schema"]
                try:
                    problem = _borrowed_body_problem(json.loads(raw_body), schema)
                except ValueError:
                    problem = "request body is not JSON"
                if problem:
                    request_errors.append(problem)
            else:
                request_errors.append("a request body was sent to an operation that declares none")
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
            # A request without credentials answered 401 is the spec's own documented exchange, not a violation.
            if not (type(err).__name__ == "SecurityValidationError" and str(status) == "401"):
                request_errors.append("request: %s: %s" % (type(err).__name__, _describe(err)))
        skip = None
        if request_errors and on_purpose:
            skip = "a request the spec rejects, sent on purpose by a test (%s)" % request_errors[0][:200]
        elif not request_errors and on_purpose:
            errors.append("marked invalid on purpose, but the spec accepts the request: drop the marker")
        else:
            errors.extend(request_errors)

        response_headers = dict((key.lower(), value) for key, value in (exchange.get("response_headers") or {}).items())
        for name in RATE_LIMIT_HEADERS:
            value = response_headers.get(name)
            if value is None or not re.match(r"^-?\d+$", str(value)):
                errors.append("response header %s missing or not an integer (%r)" % (name, value))
        body_text = exchange.get("response_body")
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
