# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: the only place that touches pydo.

One client per module run. Every API call goes through ``DocrClient.call`` (a pydo operation) or
``DocrClient.raw`` (``send_request`` for the few things pydo cannot express), which give:

* one error mapping (``DocrApiError`` with status, error id, message and request id),
* "not found" as a value: documented 404 bodies that pydo returns as dicts become ``None``,
* bounded retries with exponential back-off that honour ``Retry-After`` and ``ratelimit-reset``,
  for idempotent calls, and for POSTs only where that is safe (see ``call``). DigitalOcean's limits are
  sliding windows in which each request expires on its own: a 429 over the per-minute burst limit says
  ``Retry-After``; one over the hourly limit says nothing but ``ratelimit-remaining: 0``, and
  ``ratelimit-reset`` is when the oldest counted request expires (one request frees up then),
* pagination over page numbers and ``page_token``, asking for the largest page the API allows,
* the one rate limiter (``RateLimiter``): every request is counted, and a call that asks for a pace
  (``pace=`` requests per minute) waits before it is sent rather than earning a 429,
* plain ``http://`` only for loopback hosts (the simulator).
"""

import email.utils
import ipaddress
import json
import random
import time

try:
    from urllib.parse import urlsplit, parse_qs
except ImportError:  # pragma: no cover - Python 2 is not supported by this collection
    urlsplit = parse_qs = None

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError, DocrError

COLLECTION_VERSION = "0.3.0"
USER_AGENT = "dockyard.docr/%s" % COLLECTION_VERSION
DEFAULT_API_URL = "https://api.digitalocean.com"
TOKEN_ENV_VARS = ("DIGITALOCEAN_ACCESS_TOKEN", "DIGITALOCEAN_TOKEN", "DO_API_TOKEN", "DO_API_KEY", "DO_OAUTH_TOKEN", "OAUTH_TOKEN")
API_URL_ENV_VAR = "DIGITALOCEAN_API_URL"

# The largest page size the DigitalOcean API accepts.
MAX_PER_PAGE = 200
# Longest single wait between two attempts, and the base of the exponential back-off.
MAX_SINGLE_WAIT = 60.0
BACKOFF_BASE = 0.5
RETRY_STATUSES = (429, 500, 502, 503, 504)
# A paced call waits for ratelimit-reset when the hourly budget (ratelimit-remaining) falls to this.
HOURLY_RESERVE = 10
# The longest single wait of the limiter for the hourly reset (the next answer's headers tell again).
MAX_PACING_WAIT = 60.0
# Waiting until a request is exactly a minute old is not enough: the API stamps it on arrival, the limiter
# when the answer is back, and the two clocks round differently (HTTP dates are whole seconds).
PACING_MARGIN = 1.0
# Calls that create something: a blind repeat could create it twice (see DocrClient._attempts).
CREATING_OPERATIONS = frozenset((
    "registries.create",
    "registries.run_garbage_collection",
    "registry.create",
    "registry.run_garbage_collection",
))

_HELP_401 = (
    "The DigitalOcean API rejected the token (401 Unauthorized). Check that the token is current and "
    "complete: create one at https://cloud.digitalocean.com/account/api/tokens and pass it as the 'token' "
    "option or in DIGITALOCEAN_ACCESS_TOKEN."
)
_HELP_403 = (
    "The token is valid but may not do this (403 Forbidden). A read-only token cannot change anything; "
    "a custom-scoped token needs the 'registry' scopes (and 'kubernetes' for the DOKS integration)."
)


def is_loopback_host(host):
    """True for localhost and any address in 127.0.0.0/8 or ::1."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url):
    """Fail before any request on a URL that is not the API's root over https (or plain http to loopback).

    The collection adds the ``/v2/...`` paths itself: a URL with a path (``https://api.digitalocean.com/v2``)
    would turn every answer into a 404, which reads as "absent". So a path, a query, a fragment or
    credentials in the URL are refused, as is an empty URL.
    """
    example = DEFAULT_API_URL
    if not isinstance(api_url, str) or not api_url.strip():
        raise DocrError("api_url must be the API's root URL, such as %s; got an empty value." % example)
    if api_url != api_url.strip() or any(ord(c) < 33 or ord(c) == 127 for c in api_url):
        raise DocrError("api_url %r holds whitespace or control characters; give the API's root URL, such as %s." % (api_url, example))
    try:
        parts = urlsplit(api_url)
        hostname = parts.hostname
        parts.port  # pylint: disable=pointless-statement  # raises ValueError on a bad port
    except ValueError as exc:
        raise DocrError("api_url %r is not a valid URL (%s); use the API's root URL, such as %s." % (api_url, exc, example))
    if parts.scheme not in ("http", "https") or not hostname:
        raise DocrError("api_url must be an http(s) URL such as %s, got %r." % (example, api_url))
    if parts.username is not None or parts.password is not None:
        raise DocrError("api_url must not hold a user name or password; pass the token in the 'token' option.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise DocrError(
            "api_url %r has a path, query or fragment: give only the API's root, such as %s (the collection adds "
            "/v2/... itself; with a path every answer would be a 404)." % (api_url, example)
        )
    if parts.scheme == "http" and not is_loopback_host(hostname):
        raise DocrError(
            "api_url %r uses plain http to a host that is not loopback. The token would travel unencrypted: "
            "use https. Plain http is accepted only for 127.0.0.1, ::1 and localhost (the simulator)." % api_url
        )
    return api_url.rstrip("/")


def check_token(token):
    """The token with surrounding whitespace removed; fails (never showing it) when it cannot be one.

    A YAML block scalar (``|``) or a file read with ``lookup('file')`` ends with a newline: sent as is, it
    is refused by the HTTP library with an error that quotes the whole header. Stripped once here, the
    token is the same everywhere after (the request, the masking of the output).
    """
    if token is None:
        return None
    if not isinstance(token, str):
        raise DocrError("token must be a string; got a %s (its value is not shown)." % type(token).__name__)
    stripped = token.strip()
    if any(ord(c) < 33 or ord(c) == 127 for c in stripped):
        raise DocrError("token holds whitespace or control characters inside it; it is not a DigitalOcean API token "
                        "(its value is not shown).")
    return stripped


def scrub(text, secrets):
    """``text`` with every secret (and any HTTP header value it quotes) removed, for error messages."""
    text = "%s" % (text,)
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        for variant in (secret, repr(secret)[1:-1]):
            if variant:
                text = text.replace(variant, "********")
    if "header" in text.lower() or "bearer" in text.lower():
        # e.g. "Invalid ... header value: 'Bearer ...'": never repeat a header value.
        return "the HTTP library refused a request header (its value is not shown)"
    return text


class _Lib(object):
    """pydo and the azure-core names the client needs, imported on first use.

    pydo and azure-core take about 0.1 s to import: a run that makes no API call (credentials that are
    still valid, a bad option) never pays for them. ``load()`` returns the ImportError, or None.
    """

    def __init__(self):
        self.loaded = False
        self.error = None
        self.pydo = self.HttpRequest = self.BearerPolicy = None
        self.HttpResponseError = self.ServiceRequestError = self.ServiceResponseError = None

    def load(self):
        if self.loaded:
            return self.error
        self.loaded = True
        try:
            import pydo
            from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
            from azure.core.pipeline.policies import SansIOHTTPPolicy
            from azure.core.rest import HttpRequest
        except ImportError as exc:  # guarded: the module reports missing_required_lib
            self.error = exc
            return exc
        self.pydo = pydo
        self.HttpRequest = HttpRequest
        self.HttpResponseError = HttpResponseError
        self.ServiceRequestError = ServiceRequestError
        self.ServiceResponseError = ServiceResponseError
        self.BearerPolicy = _bearer_policy_class(SansIOHTTPPolicy)
        return None


LIB = _Lib()


def _bearer_policy_class(base):
    class BearerPolicy(base):
        """Sets the bearer token; refuses plain http except to loopback hosts.

        pydo's own credential policy refuses every plain-http URL, which rules out the local simulator.
        """

        def __init__(self, token):
            super(BearerPolicy, self).__init__()
            self._token = token

        def on_request(self, request):
            parts = urlsplit(request.http_request.url)
            if parts.scheme != "https" and not is_loopback_host(parts.hostname):
                raise DocrError("Refusing to send the token over plain http to %s." % parts.hostname)
            request.http_request.headers["Authorization"] = "Bearer %s" % self._token

    return BearerPolicy


def _parse_body(text):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _int_header(headers, name):
    try:
        return int(float(headers.get(name)))
    except (TypeError, ValueError):
        return None


class RateLimiter(object):
    """The one rate limiter of a client: DigitalOcean's sliding per-minute window, and the hourly budget.

    Every request the client sends is counted (``note``, retries included), whatever the call. A call that
    asks for a pace (``pace``: requests per minute) first waits (``before``) until the request ``pace``
    places back is more than a minute (plus ``PACING_MARGIN``) old, and, when the API's headers say fewer
    than ``HOURLY_RESERVE`` requests remain in the hour, until ``ratelimit-reset`` (at most
    ``MAX_PACING_WAIT`` at a time). A call without a pace never waits here: the client's retries still
    honour ``Retry-After`` and ``ratelimit-reset`` on a 429.

    Requests are stamped when the answer is back, never before the send: every stamp is then later than
    the API's own (taken on arrival), so a request that travels faster than an earlier one cannot land
    inside that one's minute. ``clock`` (monotonic seconds) and ``sleep`` are the client's: one clock
    measures every wait, and a test gives both from its simulated time.
    """

    def __init__(self, clock=time.monotonic, sleep=time.sleep):
        self.clock = clock
        self.sleep = sleep
        self.sent = []
        self.waits = 0
        self.waited = 0.0

    def _wait(self, seconds, cap=None):
        seconds = max(0.0, seconds if cap is None else min(cap, seconds))
        if seconds > 0:
            self.waits += 1
            self.waited += seconds
            self.sleep(seconds)

    def note(self, count=1):
        """Count ``count`` requests whose answers just came back."""
        if count > 0:
            now = self.clock()
            self.sent = [t for t in self.sent if t > now - 60 - PACING_MARGIN]
            self.sent.extend([now] * count)

    def before(self, pace, rate_limit=None, server_now=None):
        """Wait, if needed, before a request sent at ``pace`` requests per minute (None or 0: no pace).

        ``rate_limit`` is the client's last ``ratelimit-*`` headers, ``server_now`` the API's clock.
        """
        if not pace:
            return
        now = self.clock()
        self.sent = [t for t in self.sent if t > now - 60 - PACING_MARGIN]
        if len(self.sent) >= pace:
            # at most a minute and the margin, by construction
            self._wait(self.sent[len(self.sent) - pace] + 60 + PACING_MARGIN - now)
        remaining = (rate_limit or {}).get("remaining")
        reset = (rate_limit or {}).get("reset")
        if remaining is not None and remaining <= HOURLY_RESERVE and reset and server_now is not None:
            # capped: the next answer's headers tell again, and the client retries a 429 itself
            self._wait(reset - server_now, cap=MAX_PACING_WAIT)

    def report(self, requests):
        """The figures a module returns about its pacing."""
        return dict(requests=requests, waits=self.waits, waited_seconds=round(self.waited, 3))


class DocrClient(object):
    """A pydo client plus the collection's error mapping, retries and pagination."""

    def __init__(self, token, api_url=DEFAULT_API_URL, validate_certs=True, http_timeout=30, http_retries=5, sleep=time.sleep,
                 clock=time.monotonic):
        token = check_token(token)
        if not token:
            raise DocrError(
                "No DigitalOcean API token. Set the 'token' option (or module_defaults for group/dockyard.docr.docr), "
                "or one of the environment variables %s." % ", ".join(TOKEN_ENV_VARS)
            )
        self.api_url = check_api_url(api_url)
        self._secrets = (token,)
        self.http_retries = max(0, int(http_retries))
        self.http_timeout = http_timeout
        self._sleep = sleep
        # The one rate limiter; its clock and sleep are the ones every wait of this client uses.
        self.limiter = RateLimiter(clock, sleep)
        self.rate_limit = {}
        self.server_time = None
        self._observed_at = None
        # A time on ``clock()`` after which no retry is started (the GC deadline); None: no limit.
        self.retry_until = None
        self.calls = 0
        if LIB.load() is not None:
            raise DocrError(missing_required_lib("pydo", url="https://pypi.org/project/pydo/"), exception=str(LIB.error))
        self._pydo = LIB.pydo.Client(
            token=token,
            endpoint=self.api_url,
            authentication_policy=LIB.BearerPolicy(token),
            user_agent=USER_AGENT,
            connection_verify=validate_certs,
            connection_timeout=http_timeout,
            read_timeout=http_timeout,
            retry_total=0,  # retries are ours (below): pydo's policy does not honour ratelimit-reset
        )

    # ---- bookkeeping -------------------------------------------------------------------------
    def _observe(self, headers):
        """Remember the rate-limit headers and the server's clock from a response."""
        if headers is None:
            return
        limit = {}
        for key in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
            value = _int_header(headers, key)
            if value is not None:
                limit[key.split("-", 1)[1]] = value
        if limit:
            self.rate_limit = limit
        date = headers.get("Date")
        if date:
            try:
                self.server_time = email.utils.parsedate_to_datetime(date).timestamp()
                self._observed_at = time.monotonic()
            except (TypeError, ValueError, IndexError):
                pass

    def now(self):
        """The API's idea of now (from the last Date header), or the local clock."""
        return self.server_time if self.server_time is not None else time.time()

    def _hourly_wait(self, headers, status):
        """Seconds until the hourly quota frees a request, when this answer is a 429 over it; else None.

        An hourly 429 carries no ``Retry-After`` (that is the burst limit's), ``ratelimit-remaining: 0`` and
        ``ratelimit-reset``, the Unix time when the oldest request in the sliding hour expires.
        """
        if status != 429 or headers is None or headers.get("Retry-After") is not None:
            return None
        if _int_header(headers, "ratelimit-remaining") != 0:
            return None
        reset = _int_header(headers, "ratelimit-reset")
        if not reset:
            return None
        return max(0.0, reset - self.now())

    def clock(self):
        """``now()`` moved on by the monotonic time since the last Date header arrived.

        The clock for deadlines: it follows the API's clock (the one GC timestamps use) and keeps moving
        while no answer comes (a slow answer, retries), unlike ``now()``, which stands still between answers.
        """
        if self.server_time is None or self._observed_at is None:
            return time.time()
        return self.server_time + max(0.0, time.monotonic() - self._observed_at)

    def _wait_for(self, attempt, headers, status):
        """Seconds to wait before attempt number ``attempt + 1``."""
        if headers is not None:
            retry_after = headers.get("Retry-After")
            if retry_after is not None:
                try:
                    return min(MAX_SINGLE_WAIT, max(0.0, float(retry_after)))
                except ValueError:
                    try:
                        when = email.utils.parsedate_to_datetime(retry_after).timestamp()
                        return min(MAX_SINGLE_WAIT, max(0.0, when - self.now()))
                    except (TypeError, ValueError, IndexError):
                        pass
            hourly = self._hourly_wait(headers, status)
            if hourly is not None:
                return min(MAX_SINGLE_WAIT, hourly)
        backoff = BACKOFF_BASE * (2 ** attempt)
        return min(MAX_SINGLE_WAIT, backoff * (0.75 + random.random() / 2))

    def _error(self, status, body, headers, what):
        body = body if isinstance(body, dict) else {}
        error_id = body.get("id")
        message = body.get("message")
        request_id = body.get("request_id") or (headers.get("x-request-id") if headers is not None else None)
        if status == 401:
            msg = _HELP_401
        elif status == 403:
            msg = _HELP_403
        elif status == 429:
            msg = "The DigitalOcean API rate limit was still exceeded after %d retries (%s)." % (self.http_retries, what)
        else:
            msg = "DigitalOcean API error %s on %s: %s" % (status, what, message or error_id or "no details")
        return DocrApiError(msg, status_code=status, error_id=error_id, error_message=message, request_id=request_id)

    # ---- the one retry loop -------------------------------------------------------------------
    def _attempts(self, send, what, idempotent, recover=None, pace=None):
        """Run ``send`` until it succeeds or retrying is no longer safe or allowed.

        ``send`` returns ``(status, body, headers)`` or raises. Idempotent calls (reads, and writes
        that set a state: delete, cancel, subscription, DOKS integration) are simply repeated. A call
        that creates something (a registry, a GC) is repeated after a 429 (the API refused it before
        doing anything) or after a failure that happened before the request was sent; after a 5xx or
        a lost response it may have gone through, so it is repeated only when ``recover`` (a
        read-back) says it did not: ``recover()`` returns the created object or ``None``. If such a repeat
        is then refused (a 409: the earlier attempt was slow, not lost, and landed first), ``recover()`` is
        asked again before the refusal is reported.

        Every attempt goes through the rate limiter: counted when its answer (or failure) is back, and,
        with a ``pace``, waited for before it is sent.
        """
        attempt = 0
        # True once an attempt of a creating call may have gone through unseen (a 5xx or a lost answer).
        uncertain = False
        while True:
            status = headers = body = None
            failure = None
            self.limiter.before(pace, self.rate_limit, self.server_time)
            try:
                self.calls += 1
                try:
                    status, body, headers = send()
                finally:
                    self.limiter.note(1)  # answered, refused or lost: it counts against the limit
                self._observe(headers)
            except LIB.HttpResponseError as exc:
                response = exc.response
                status = exc.status_code
                headers = response.headers if response is not None else None
                self._observe(headers)
                try:
                    body = _parse_body(response.text()) if response is not None else None
                except Exception:  # pylint: disable=broad-except  # a body we cannot read is no body
                    body = None
                if status not in RETRY_STATUSES:
                    if uncertain and recover is not None:
                        # e.g. a 409 "already exists": an earlier attempt, slow rather than lost, landed first.
                        found = recover()
                        if found is not None:
                            return 200, found, None
                    raise self._error(status, body, headers, what)
                failure = "status"
            except LIB.ServiceRequestError as exc:
                # Not sent at all (connection refused, DNS): always safe to repeat.
                failure = "unsent"
                body = str(exc)
            except LIB.ServiceResponseError as exc:
                # Sent, but no (complete) answer: a timeout or a dropped connection.
                failure = "lost"
                body = str(exc)
            else:
                return status, body, headers

            safe = idempotent or failure == "unsent" or status == 429
            uncertain = uncertain or not safe
            if not safe and recover is not None:
                found = recover()
                if found is not None:
                    return 200, found, None
                safe = True
            hourly = self._hourly_wait(headers, status) if failure == "status" else None
            if safe and hourly is not None and hourly > MAX_SINGLE_WAIT * max(1, self.http_retries - attempt):
                # The hourly quota frees its next request later than the retries left could wait: asking
                # again before then only earns more 429s. Say when it frees up instead.
                raise DocrApiError(
                    "The DigitalOcean API's hourly rate limit is spent (%s): the oldest request counted in the last "
                    "hour expires in %d seconds, and one request is allowed again then. Retry after that."
                    % (what, int(hourly + 0.999)),
                    status_code=429, error_id=(body or {}).get("id") if isinstance(body, dict) else None,
                    retry_in_seconds=int(hourly + 0.999),
                )
            wait = None
            if safe and attempt < self.http_retries:
                wait = self._wait_for(attempt, headers, status)
                if self.retry_until is not None and self.clock() + wait > self.retry_until:
                    safe = False  # the caller's deadline comes first: it decides what to do next
            if not safe or attempt >= self.http_retries:
                if failure in ("unsent", "lost"):
                    raise DocrApiError(
                        "Could not reach the DigitalOcean API for %s after %d attempts: %s"
                        % (what, attempt + 1, scrub(body, self._secrets)),
                        status_code=None,
                    )
                raise self._error(status, body if isinstance(body, dict) else None, headers, what)
            self._sleep(wait)
            attempt += 1

    # ---- public API ------------------------------------------------------------------------------
    def call(self, operation, *args, **kwargs):
        """Call a pydo operation such as ``"registries.get"``; return the body, or ``None`` on 404.

        Keyword ``recover`` (for POSTs): see ``_attempts``; ``pace``: requests per minute this call keeps to
        (see ``RateLimiter``). Other keywords go to pydo.
        """
        recover = kwargs.pop("recover", None)
        pace = kwargs.pop("pace", None)
        missing_ok = kwargs.pop("missing_ok", True)
        group, name = operation.split(".")
        func = getattr(getattr(self._pydo, group), name)

        def send():
            return func(*args, cls=lambda pipeline_response, body, _headers: (
                pipeline_response.http_response.status_code, body, pipeline_response.http_response.headers), **kwargs)

        try:
            status, body, headers = self._attempts(send, operation, operation not in CREATING_OPERATIONS, recover, pace)
        except DocrApiError as exc:
            # pydo raises on a 404 that the spec does not document for this call; same meaning.
            if exc.status_code == 404 and missing_ok:
                return None
            raise
        if status == 404:
            if missing_ok:
                return None
            raise self._error(status, body, headers, operation)
        if status >= 400:
            raise self._error(status, body, headers, operation)
        return body

    def raw(self, method, path, params=None, body=None, recover=None, missing_ok=True, idempotent=None, pace=None):
        """Send a request pydo has no method for (documented API behaviour the spec omits).

        ``idempotent`` defaults to true for every method but POST.
        """
        if idempotent is None:
            idempotent = method != "POST"

        def send():
            request = LIB.HttpRequest(method, path, params=params, json=body)
            response = self._pydo.send_request(request)
            response.read()
            if response.status_code >= 400:
                raise LIB.HttpResponseError(response=response)
            return response.status_code, _parse_body(response.text()), response.headers

        try:
            status, data, _headers = self._attempts(send, "%s %s" % (method, path), idempotent, recover, pace)
        except DocrApiError as exc:
            if exc.status_code == 404 and missing_ok:
                return None
            raise
        return data if status != 204 else None

    def paginate(self, operation, key, *args, **kwargs):
        """All items under ``key`` across pages (page numbers or ``page_token``), largest pages first.

        A list endpoint has no "not found" to turn into a value: a 404 (the parent object is gone, or the
        URL is wrong) raises ``DocrApiError`` with ``status_code=404``, and so does a page without ``key``
        as a list. Callers that can tell "the parent is gone" from "something is wrong" ask the parent
        (a single-object GET, where a 404 is documented) after such a 404. ``pace`` applies to every page.
        """
        kwargs.setdefault("per_page", MAX_PER_PAGE)
        kwargs["missing_ok"] = False
        items = []
        while True:
            body = self.call(operation, *args, **kwargs)
            page = body.get(key) if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise DocrApiError(
                    "The DigitalOcean API answered %s without a list of %s; refusing to read that as an empty list."
                    % (operation, key), status_code=None,
                )
            items.extend(page)
            next_url = ((body.get("links") or {}).get("pages") or {}).get("next")
            if not next_url:
                return items
            query = parse_qs(urlsplit(next_url).query)
            if "page_token" in query:
                kwargs["page_token"] = query["page_token"][0]
                kwargs.pop("page", None)
            elif "page" in query:
                kwargs["page"] = int(query["page"][0])
            else:
                return items


def client_from_params(params, **timing):
    """Build the client from the common options of a module (``timing``: ``clock`` and ``sleep``, for tests)."""
    return DocrClient(
        token=params.get("token"),
        api_url=params.get("api_url") if params.get("api_url") is not None else DEFAULT_API_URL,
        validate_certs=params.get("validate_certs", True),
        http_timeout=params.get("http_timeout") or 30,
        http_retries=params.get("http_retries") if params.get("http_retries") is not None else 5,
        **timing
    )
