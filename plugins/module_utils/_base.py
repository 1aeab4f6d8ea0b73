# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: the module base, its common options, and the single exit point.

A module is a resource class and a two-line ``main()``::

    class Registry(PlannedResource):
        argument_spec = dict(...)
        ...

    def main():
        run_resource(Registry)

``run_resource`` builds the ``AnsibleModule`` (common options merged in), runs the resource, and is
the only place that calls ``exit_json`` or ``fail_json``.
"""

import copy
import math
import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible.module_utils.common.validation import check_type_dict

from ansible_collections.dockyard.docr.plugins.module_utils import _client
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError, DocrInputError
from ansible_collections.dockyard.docr.plugins.module_utils._time import MAX_SECONDS

COMMON_ARGUMENT_SPEC = dict(
    token=dict(
        type="str",
        no_log=True,
        aliases=["api_token", "oauth_token"],
        fallback=(env_fallback, list(_client.TOKEN_ENV_VARS)),
    ),
    api_url=dict(type="str", default=_client.DEFAULT_API_URL, fallback=(env_fallback, [_client.API_URL_ENV_VAR])),
    validate_certs=dict(type="bool", default=True),
    http_timeout=dict(type="int", default=30),
    http_retries=dict(type="int", default=5),
)

# Upper bounds of the common numeric options: above them a value is a typo, and some would crash a library.
MAX_HTTP_TIMEOUT = 3600
MAX_HTTP_RETRIES = 20


def check_number(value, option, minimum=0, maximum=MAX_SECONDS, above_minimum=False, unit="seconds"):
    """Raise ``DocrInputError`` naming ``option`` unless ``value`` is a finite number in range (None passes)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DocrInputError("%s must be a finite number of %s, got %r." % (option, unit, value))
    if value < minimum or (above_minimum and value == minimum):
        raise DocrInputError("%s must be %s %s %s, got %s." % (
            option, "more than" if above_minimum else "at least", minimum, unit, value))
    if value > maximum:
        raise DocrInputError("%s must be at most %s %s, got %s." % (option, maximum, unit, value))
    return value


def merge_specs(*specs):
    merged = {}
    for spec in specs:
        merged.update(copy.deepcopy(spec))
    return merged


class _AnsibleModule(AnsibleModule):
    """``AnsibleModule`` that keeps the token hidden when the arguments fail validation.

    ansible-core collects the ``no_log`` values while it validates. When an option with sub-options (a dict,
    or a list of dicts) holds a string it cannot parse, that collection stops with an error before the
    token is recorded, and the failure prints the token in ``invocation``; its message does not name the
    option either. So the token values are recorded as soon as the arguments are loaded, and such an
    option fails first, by name.
    """

    def _load_params(self):
        super(_AnsibleModule, self)._load_params()
        self._docr_early_error = None
        for name in _names(COMMON_ARGUMENT_SPEC["token"], "token"):
            value = self.params.get(name)
            for text in _strings_in(value):
                self.no_log_values.add(text)
                if text.strip():
                    self.no_log_values.add(text.strip())
            if value is not None and not isinstance(value, str) and self._docr_early_error is None:
                self._docr_early_error = "%s must be a string; got a %s (its value is not shown)." % (name, type(value).__name__)
        for option, spec in self.argument_spec.items():
            if spec.get("type") != "list" or self._docr_early_error is not None:
                continue
            for name in _names(spec, option):
                if isinstance(self.params.get(name), str):
                    # ansible-core would split it on commas: "^v[0-9]{1,3}$" would become two broken items.
                    self._docr_early_error = "%s must be a list; got the string %r. Write it as a YAML list." % (name, self.params[name])

    def _set_internal_properties(self, *args, **kwargs):
        super(_AnsibleModule, self)._set_internal_properties(*args, **kwargs)
        if getattr(self, "_docr_early_error", None):
            self.fail_json(msg=self._docr_early_error)
        for option, spec in self.argument_spec.items():
            if spec.get("options") is None:
                continue
            for name in _names(spec, option):
                value = self.params.get(name)
                items = value if isinstance(value, list) else [value]
                for item in items:
                    if not isinstance(item, str):
                        continue
                    try:
                        check_type_dict(item)
                    except TypeError:
                        self.fail_json(msg="%s must be %s with the keys %s; got the string %r." % (
                            name, "a list of dictionaries" if spec.get("type") == "list" else "a dictionary",
                            ", ".join(sorted(spec["options"])), item))


def _names(spec, option):
    return [option] + list(spec.get("aliases") or [])


def _strings_in(value):
    """Every string in ``value`` (nested lists and dicts included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in _strings_in(key) + _strings_in(item)]
    if isinstance(value, (list, tuple, set)):
        return [text for item in value for text in _strings_in(item)]
    return [] if value is None else [str(value)]


class DocrModule(object):
    """``AnsibleModule`` with the common options, and a client built on first use."""

    def __init__(self, argument_spec, supports_check_mode=True, timing=None, **kwargs):
        # ``clock`` and ``sleep`` for the client (its rate limiter and retries); tests give simulated ones.
        self.timing = dict(timing or {})
        self.module = _AnsibleModule(
            argument_spec=merge_specs(COMMON_ARGUMENT_SPEC, argument_spec),
            supports_check_mode=supports_check_mode,
            **kwargs
        )
        self.params = self.module.params
        # The token, stripped of surrounding whitespace once, here: every later use sees the same value.
        token = self.params.get("token")
        if isinstance(token, str):
            self.params["token"] = token.strip()
        self.check_mode = self.module.check_mode
        self.diff_mode = self.module._diff
        self._api = None

    @property
    def api(self):
        if self._api is None:
            self._check_common()
            self._api = _client.client_from_params(self.params, **self.timing)
        return self._api

    def check_common(self):
        """Validate the common options (before any API call)."""
        check_number(self.params["http_timeout"], "http_timeout", 0, MAX_HTTP_TIMEOUT, above_minimum=True)
        check_number(self.params["http_retries"], "http_retries", 0, MAX_HTTP_RETRIES, unit="retries")
        api_url = self.params.get("api_url")
        try:
            _client.check_api_url(_client.DEFAULT_API_URL if api_url is None else api_url)
        except DocrError as exc:
            raise DocrInputError(exc.msg)
        if self.params.get("token") is not None:
            _client.check_token(self.params["token"])

    _check_common = check_common

    def warn(self, msg):
        self.module.warn(msg)


class Resource(object):
    """A module's behaviour: ``run()`` returns the result dict (without ``changed`` if derived)."""

    argument_spec = {}
    module_kwargs = {}

    def __init__(self, docr):
        self.docr = docr
        self.params = docr.params
        self.check_mode = docr.check_mode

    @property
    def api(self):
        return self.docr.api

    def run(self):
        raise NotImplementedError


class Write(object):
    """One API write of a plan: what it does, in words, and the service call that does it.

    ``call`` is a plain service function taking the client first (``_registry.create_registry``);
    ``perform(api)`` calls it with the arguments the planner chose and returns its answer.
    """

    def __init__(self, what, call, *args, **kwargs):
        self.what = what
        self.call = call
        self.args = args
        self.kwargs = kwargs

    def perform(self, api):
        return self.call(api, *self.args, **self.kwargs)

    # False for a write that touches no API (a local file): the engine then builds no client for it.
    needs_api = True

    def __repr__(self):
        return "Write(%r)" % self.what


class LocalWrite(Write):
    """A write of a plan that touches no API (``call`` takes no client): such as fixing a file's mode."""

    needs_api = False

    def perform(self, api=None):
        return self.call(*self.args, **self.kwargs)


class Plan(object):
    """What a service's pure planner decides, before anything is written.

    - ``before``: the normalised current state (``None`` when absent);
    - ``after``: the state the writes lead to (predicted; what check mode returns);
    - ``writes``: the ``Write`` list that turns one into the other, in order (empty: nothing to do);
    - ``result``: extra return values;
    - ``warnings``: texts for the user;
    - ``follow``: for long-running work, ``follow(api, answers)`` runs after the writes (never in check
      mode) and returns the after-state it ends in (or raises ``DocrError``); ``_wait.LongRunning`` is its
      shape. A follow-up that writes appends the answer to ``answers``, so a failure after it says ``changed``.
    """

    def __init__(self, before, after, writes=(), result=None, warnings=(), follow=None):
        self.before = before
        self.after = after
        self.writes = list(writes)
        self.result = dict(result or {})
        self.warnings = list(warnings)
        self.follow = follow

    @property
    def changed(self):
        return self.before != self.after

    def __repr__(self):
        return "Plan(before=%r, after=%r, writes=%r)" % (self.before, self.after, self.writes)


class StateMoved(DocrError):
    """Raised by a write that finds the state moved since it was read, before it wrote anything (another run
    started a GC first): ``current`` is the state read back. The engine plans once more from it."""

    def __init__(self, msg, current, **details):
        super(StateMoved, self).__init__(msg, **details)
        self.current = current


class PlannedResource(Resource):
    """The engine: read the current state, ask the planner, write unless in check mode, derive the result.

    A module implements ``read()`` (API reads only) and ``plan(current)`` (asks its service's pure planner
    for a ``Plan``), and may implement ``settle(plan, answers)`` (the after-state from the writes' answers;
    by default the planned one). The engine, the same way for every module:

    - sends the plan's writes in order, then its ``follow`` (long-running work), unless in check mode;
    - derives ``changed`` (before != after) and, in diff mode, ``diff`` from the normalised states;
    - when a write or a follow-up fails after a write went through, the failure says ``changed: true``;
    - when a write finds the state moved before anything was written (``StateMoved``), plans once more from
      the state it read back, and applies that plan.
    """

    def read(self):
        raise NotImplementedError

    def plan(self, current):
        raise NotImplementedError

    def settle(self, plan, answers):
        return plan.after

    def run(self):
        plan = self.plan(self.read())
        for warning in plan.warnings:
            self.docr.warn(warning)
        after = plan.after
        if not self.check_mode and (plan.writes or plan.follow):
            plan, after = self.apply_or_replan(plan)
        return self.finish(plan, after)

    def apply_or_replan(self, plan):
        """``(plan, apply(plan))``; when a write finds the state moved before anything was written
        (``StateMoved``), the plan made from the state it read back, and its outcome (once)."""
        try:
            return plan, self.apply(plan)
        except StateMoved as moved:
            if moved.details.get("changed"):
                raise
            plan = self.plan(moved.current)
        for warning in plan.warnings:
            self.docr.warn(warning)
        if plan.writes or plan.follow:
            return plan, self.apply(plan)
        return plan, plan.after

    def apply(self, plan):
        answers = []
        try:
            for write in plan.writes:
                answers.append(write.perform(self.api if write.needs_api else None))
            after = self.settle(plan, answers)
            if plan.follow is not None:
                after = plan.follow(self.api, answers)
            return after
        except DocrError as exc:
            if answers:
                exc.details["changed"] = True
            raise

    def finish(self, plan, after):
        result = dict(plan.result)
        result["changed"] = plan.before != after
        if self.docr.diff_mode:
            result["diff"] = dict(before=plan.before or {}, after=after or {})
        return result


def run_resource(resource_class, **timing):
    """Build the module, run the resource, exit or fail: the single exit point of every module.

    ``timing`` (``clock``, ``sleep``) goes to the client; tests give a simulated clock this way.
    """
    docr = DocrModule(resource_class.argument_spec, timing=timing, **resource_class.module_kwargs)
    secrets = list(docr.module.no_log_values)
    try:
        docr.check_common()
        result = resource_class(docr).run()
    except DocrError as exc:
        docr.module.fail_json(**exc.to_result())
    except Exception as exc:  # pylint: disable=broad-except  # anything else is a bug: report it, with its trace
        # An exception's text may quote a request header (the token): never repeat one.
        docr.module.fail_json(msg="Unexpected error: %s" % _client.scrub(exc, secrets),
                              exception=_client.scrub(traceback.format_exc(), secrets))
    result.setdefault("changed", False)
    docr.module.exit_json(**result)
