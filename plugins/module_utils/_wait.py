# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: the one predicate waiter (``wait_for``) and the one shape of long-running work
(``LongRunning``: poll, done, timeout, deadline, on_deadline), which the engine runs as a plan's ``follow``."""

import time

from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError, DocrError


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


class LongRunning(object):
    """The one action shape for long-running work: the engine's ``Plan.follow`` hook.

    The engine calls it as ``follow(api, answers)`` after a plan's writes (never in check mode). It:

    - takes its subject (the GC just started, the one joined) from ``subject(api, answers)``;
    - unless ``wait`` is off, polls it (``poll``) until ``done``, on one clock (``api.clock()``, the API's
      clock moving on between its answers), at most ``timeout`` seconds;
    - with a ``deadline`` no longer than ``timeout``: while it runs, a poll that fails is remembered and
      waited through (the deadline, not the API's mood, ends the wait), the client starts no retry past it,
      and when it passes ``on_deadline(api, last, answers)`` decides (the GC: cancel it, wait for the cancel,
      fail saying so);
    - when ``timeout`` passes first, raises ``on_timeout(last)``;
    - returns ``finished(final)``: the after-state the engine compares with the plan's ``before``.

    Every failure it raises names the subject as last seen (in ``subject_key``). A follow-up that writes
    (a cancel at the deadline) appends the write's answer to ``answers``, so the engine reports a failure
    after it as ``changed``. ``seen`` is the subject as last seen, for the result; ``poll_error`` the last
    poll that failed under a deadline; ``warn`` (set by the module) reports texts to the user.
    """

    what = "the operation"
    subject_key = None
    # The sleeper between polls (the client's retries have their own): tests spend it on a simulated clock.
    sleep = staticmethod(time.sleep)

    def __init__(self, timeout, deadline=None, wait=True, first_delay=5.0, max_delay=60.0):
        self.timeout = timeout
        self.deadline = deadline
        self.wait = wait
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.seen = None
        self.poll_error = None
        self.warn = None

    # ---- what a kind of work defines ---------------------------------------------------------------
    def subject(self, api, answers):
        """The object to follow, from the writes' answers (by default the last answer)."""
        return answers[-1] if answers else None

    def poll(self, api, last):
        """The subject read again (``last`` when it cannot be found)."""
        raise NotImplementedError

    def done(self, current):
        raise NotImplementedError

    def on_deadline(self, api, last, answers):
        """What happens when the deadline passes: return the after-state or raise."""
        raise DocrError("%s did not finish within deadline=%s seconds." % (self.what, self.deadline))

    def on_timeout(self, last):
        """The error raised when ``timeout`` passes (without a deadline that applies)."""
        return DocrError("Timed out after %s seconds waiting for %s." % (self.timeout, self.what))

    def finished(self, final):
        """The after-state once the subject is done (or not waited on): by default, the subject itself."""
        return final

    # ---- the shape -----------------------------------------------------------------------------------
    @property
    def by_deadline(self):
        return self.deadline is not None and self.deadline <= self.timeout

    def __call__(self, api, answers):
        self.seen = self.subject(api, answers)
        try:
            final = self.seen
            if self.wait and final is not None and not self.done(final):
                final = self.follow(api, answers)
            return self.finished(final)
        except DocrError as exc:
            if self.subject_key and not exc.details.get(self.subject_key):
                exc.details[self.subject_key] = self.seen
            raise

    def follow(self, api, answers):
        """Poll until done; at the deadline hand over to ``on_deadline``; at the timeout raise."""
        limit = self.deadline if self.by_deadline else self.timeout
        if self.by_deadline:
            api.retry_until = api.clock() + limit
        try:
            return self.wait_until_done(api, limit, self.what, self.max_delay, tolerate=self.by_deadline)
        except WaitTimeout as exc:
            last = exc.last if exc.last is not None else self.seen
        finally:
            api.retry_until = None
        if self.by_deadline:
            return self.on_deadline(api, last, answers)
        raise self.on_timeout(last)

    def wait_until_done(self, api, limit, what, max_delay, tolerate=False):
        """``wait_for`` over ``poll`` on the API's clock; with ``tolerate``, a failed poll returns the last seen."""
        def poll():
            try:
                current = self.poll(api, self.seen)
            except DocrApiError as exc:
                if not tolerate:
                    raise
                self.poll_error = exc
                return self.seen
            self.poll_error = None
            if current is not None:
                self.seen = current
            return self.seen
        return wait_for(poll, self.done, limit, what, first_delay=self.first_delay,
                        max_delay=max(self.first_delay, max_delay), sleep=self.sleep, clock=api.clock)
