# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: errors raised by module_utils and turned into fail_json once."""


class DocrError(Exception):
    """A failure the user should see: ``msg`` plus extra result keys."""

    def __init__(self, msg, **details):
        super(DocrError, self).__init__(msg)
        self.msg = msg
        self.details = details

    def to_result(self):
        result = dict(self.details)
        result["msg"] = self.msg
        return result


class DocrApiError(DocrError):
    """A failed API call, with the fields DigitalOcean returns in its error body."""

    def __init__(self, msg, status_code=None, error_id=None, error_message=None, request_id=None, **details):
        super(DocrApiError, self).__init__(
            msg,
            status_code=status_code,
            error_id=error_id,
            error_message=error_message,
            request_id=request_id,
            **details
        )
        self.status_code = status_code
        self.error_id = error_id
        self.error_message = error_message
        self.request_id = request_id


class DocrInputError(DocrError):
    """A bad option value, found before any write."""
