# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: the one predicate waiter (``wait``, ``wait_timeout``, poll back-off)."""

import time

from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError


class WaitTimeout(DocrError):
    """The predicate did not hold in time; ``last`` is the last value seen."""

    def __init__(self, msg, last=None, **details):
        super(WaitTimeout, self).__init__(msg, **details)
        self.last = last


def wait_for(poll, done, timeout, what, first_delay=1.0, max_delay=30.0, factor=1.5, sleep=time.sleep, clock=time.monotonic):
    """Call ``poll()`` until ``done(value)`` is true; return that value.

    Polls at once, then after ``first_delay`` seconds, growing by ``factor`` up to ``max_delay``,
    never sleeping past the deadline. Raises ``WaitTimeout`` (with the last value) after
    ``timeout`` seconds.
    """
    deadline = clock() + max(0.0, float(timeout))
    delay = max(0.0, float(first_delay))
    while True:
        value = poll()
        if done(value):
            return value
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout("Timed out after %s seconds waiting for %s." % (timeout, what), last=value)
        sleep(min(delay, remaining))
        delay = min(max_delay, delay * factor) if delay else min(max_delay, 0.1)
