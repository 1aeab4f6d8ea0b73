"""API errors as the simulator answers them: ``{"id", "message", "request_id"}``."""

ERROR_IDS = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 412: "precondition_failed", 422: "unprocessable_entity", 429: "too_many_requests",
    500: "server_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout",
}


class ApiError(Exception):
    """An API error answered as ``{"id", "message", "request_id"}``."""

    def __init__(self, status, message, error_id=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_id = error_id or ERROR_IDS.get(status, "error")


def not_found(message="The resource you requested could not be found."):
    return ApiError(404, message)


def unprocessable(message):
    return ApiError(422, message)


def as_int(value, what, minimum=0):
    """``int(value)``, refusing booleans and numbers below ``minimum`` with a ValueError naming ``what``."""
    if isinstance(value, bool):
        raise ValueError("%s must be an integer" % what)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError("%s must be an integer" % what) from None
    if number < minimum:
        raise ValueError("%s must be >= %d" % (what, minimum))
    return number
