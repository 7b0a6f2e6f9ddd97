"""Typed domain errors. Domain code raises these; one handler in `twin.api.errors` maps them to
HTTP status codes, so no domain module ever builds an HTTP response itself."""


class TwinError(Exception):
    """Root of every error the application raises on purpose."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(TwinError):
    """The caller sent something we cannot use; the message says what and where."""

    status_code = 400


class AuthenticationError(TwinError):
    status_code = 401


class PermissionDenied(TwinError):
    status_code = 403


class NotFound(TwinError):
    status_code = 404


class Conflict(TwinError):
    status_code = 409


class DatabaseUnavailable(TwinError):
    """The database cannot be reached: callers should retry later, nothing was written."""

    status_code = 503
