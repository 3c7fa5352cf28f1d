"""Storage errors, each with the HTTP status the storage API answers with."""

from __future__ import annotations

from appliance.errors import ApplianceError


class StorageError(ApplianceError):
    status = 500


class BadPath(StorageError):
    status = 400


class NotFound(StorageError):
    status = 404


class WrongKind(StorageError):
    """A directory where a file was expected, or the other way round."""

    status = 400


class AlreadyExists(StorageError):
    status = 409


class TooLarge(StorageError):
    status = 413


class Busy(StorageError):
    """Another transaction holds the rows this call needs; the client may retry."""

    status = 503


class Unauthorized(StorageError):
    status = 401
