# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: the one time module (durations, API timestamps, the clock).

Every duration option of every module is read by ``parse_duration``, so all of them accept the same
forms: a number (in the option's own unit, kept for compatibility: seconds for most, minutes for
``quiet_period``) or a string of a number and a unit: ``90s``, ``30m``, ``12h``, ``7d``, ``2w``.
"""

import calendar
import math
import re
import time

from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrInputError

# The longest duration any option takes (ten years): beyond it, dates overflow.
MAX_SECONDS = 10 * 365 * 86400
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(value, option, number_unit=1, minimum=0, maximum=MAX_SECONDS):
    """Seconds in ``value``; ``None`` stays ``None``.

    ``value`` is a number, or a number in a string, counted in ``number_unit`` seconds (1 for options
    in seconds, 60 for options in minutes), or a string with a unit (``s``, ``m``, ``h``, ``d``, ``w``).
    Raises ``DocrInputError`` naming ``option`` for anything else, or out of ``minimum``..``maximum``.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise DocrInputError("%s must be a duration such as 90s, 30m, 12h, 7d or 2w, got %r." % (option, value))
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise DocrInputError("%s must be a finite duration, got %r." % (option, value))
        seconds = float(value) * number_unit
    else:
        match = _DURATION.match(str(value).lower()) if isinstance(value, str) else None
        if not match:
            raise DocrInputError(
                "%s %r is not a duration: use a number followed by s, m, h, d or w, such as 7d or 12h." % (option, value))
        seconds = float(match.group(1)) * (UNIT_SECONDS[match.group(2)] if match.group(2) else number_unit)
    if seconds < minimum:
        raise DocrInputError("%s must be at least %s seconds, got %r." % (option, minimum, value))
    if seconds > maximum:
        raise DocrInputError("%s %r is longer than %s; use a shorter duration such as 7d or 12h." % (
            option, value, "ten years" if maximum == MAX_SECONDS else "%d seconds" % maximum))
    return seconds


def parse_time(value):
    """Epoch seconds of an API timestamp (``2026-11-22T07:36:58Z``, fractions and offsets allowed), or None."""
    if not value or not isinstance(value, str):
        return None
    match = re.match(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", value.strip())
    if not match:
        return None
    parts = [int(p) for p in match.groups()[:6]]
    epoch = calendar.timegm((parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], 0, 0, 0))
    if match.group(7):
        epoch += float(match.group(7))
    zone = match.group(8)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        epoch += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return epoch


def format_time(epoch):
    """``2026-11-22T07:36:58Z`` for epoch seconds; None stays None."""
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def ago(seconds):
    """A whole-unit human duration: ``3 days``, ``5 hours``, ``12 minutes``, ``40 seconds``."""
    seconds = max(0, int(seconds))
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return "%d %s" % (seconds // size, unit)
    return "%d seconds" % seconds
