"""Domain errors that every service maps to the same HTTP status."""


class NotFound(LookupError):
    """The requested thing does not exist (HTTP 404)."""


class Conflict(RuntimeError):
    """The request is valid but the current state forbids it (HTTP 409)."""


class Overloaded(RuntimeError):
    """The process has no room for this request now; retry shortly (HTTP 503, Retry-After)."""
