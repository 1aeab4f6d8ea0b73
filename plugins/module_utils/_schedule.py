# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: deploy-time validation of the gc_schedule role's registries.

The rules are the modules' own: each registry's GC options are checked against ``docr_gc``'s
``_gc.RUN_OPTIONS`` and ``_gc.run_option_problems``, its retention dict against ``docr_retention``'s
``_retention.RUN_OPTIONS`` and ``_retention.run_option_problems``, so a schedule that deploys is one the
playbooks will accept when cron runs them. Every problem is listed, each naming the registry and the option.
"""

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.dockyard.docr.plugins.module_utils import _gc
from ansible_collections.dockyard.docr.plugins.module_utils import _registry
from ansible_collections.dockyard.docr.plugins.module_utils import _retention

# What playbooks/gc.yml passes on to docr_gc for each registry (wait is always true there).
GC_KEYS = ("type", "min_interval", "quiet_period", "deadline", "wait_timeout", "if_active")
# What playbooks/retention.yml passes on to docr_retention.
RETENTION_KEYS = ("target", "keep_last", "older_than", "protect", "protect_digests", "repositories_include",
                  "repositories_exclude", "max_deletions")


def _checked(spec, values, where):
    """``values`` type-checked one option at a time against ``spec`` (so every bad option is reported):
    (the options with defaults filled in, problems). A bad option is replaced by its default."""
    problems = []
    params = {}
    for key, option in spec.items():
        params[key] = option.get("default")
        if key not in values or values[key] is None:
            continue
        result = ArgumentSpecValidator({key: option}).validate({key: values[key]})
        messages = list(result.error_messages)
        if messages:
            problems.extend("%s: %s" % (where, message) for message in messages)
        else:
            params[key] = result.validated_parameters[key]
    return params, problems


def _unknown(values, allowed, where):
    extra = sorted(str(key) for key in values if key not in allowed)
    if not extra:
        return []
    return ["%s: unknown option(s) %s (allowed: %s)." % (where, ", ".join(extra), ", ".join(sorted(allowed)))]


def registry_problems(registries, defaults=None):
    """Every problem with ``registries`` (names, or dicts ``{name, GC options, retention}``), as a list of
    messages such as ``registry 'acme': min_interval '1 week' is not a duration ...``. ``defaults``
    holds the GC options that apply to registries which do not set their own (``type``, ``wait_timeout``)."""
    defaults = defaults or {}
    problems = []
    if not isinstance(registries, list):
        return ["gc_schedule_registries must be a list of registry names or dicts, got %s." % type(registries).__name__]
    seen = set()
    for index, item in enumerate(registries):
        entry = item if isinstance(item, dict) else {"name": item}
        name = entry.get("name")
        where = "registry %r" % (name,) if isinstance(name, str) and name else "registry #%d" % (index + 1)
        problem = _registry.check_name(name, "name")
        if problem:
            problems.append("%s: %s" % (where, problem))
        elif name in seen:
            problems.append("%s: listed more than once." % where)
        seen.add(name)
        problems.extend(_unknown(entry, set(GC_KEYS) | {"name", "retention"}, where))
        gc_values = dict((key, defaults[key]) for key in GC_KEYS if defaults.get(key) is not None)
        gc_values.update((key, entry[key]) for key in GC_KEYS if entry.get(key) is not None)
        gc_values["wait"] = True
        params, type_problems = _checked(_gc.RUN_OPTIONS, gc_values, where)
        problems.extend(type_problems)
        problems.extend("%s: %s" % (where, message) for message in _gc.run_option_problems(params))
        retention = entry.get("retention")
        if retention in (None, {}):
            continue
        where_ret = "%s: retention" % where
        if not isinstance(retention, dict):
            problems.append("%s must be a dict of retention options, got %s." % (where_ret, type(retention).__name__))
            continue
        problems.extend(_unknown(retention, set(RETENTION_KEYS), where_ret))
        spec = dict((key, _retention.RUN_OPTIONS[key]) for key in _retention.RUN_OPTIONS)
        params, type_problems = _checked(spec, dict((k, retention[k]) for k in RETENTION_KEYS if k in retention),
                                         where_ret)
        problems.extend(type_problems)
        problems.extend("%s: %s" % (where_ret, message) for message in _retention.run_option_problems(params))
    return problems
