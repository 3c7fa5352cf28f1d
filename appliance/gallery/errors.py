"""Gallery errors, each with the HTTP status the gallery's API and pages answer with."""

from __future__ import annotations

from appliance.errors import ApplianceError


class GalleryError(ApplianceError):
    status = 400


class BadRequest(GalleryError):
    """The request or the notebook is not what the gallery takes; the message says what to send."""

    status = 400


class Unauthorized(GalleryError):
    status = 401


class Forbidden(GalleryError):
    """The member may not do this (another's publication, a group they are not in)."""

    status = 403


class NotFound(GalleryError):
    status = 404


class Conflict(GalleryError):
    """The change clashes with the gallery's state (too many featured); the message says what to do first."""

    status = 409


class Gone(GalleryError):
    """The publication was unpublished by its author."""

    status = 410


class TooLarge(GalleryError):
    status = 413


class Busy(GalleryError):
    """The gallery's database is not answering, or another change holds the rows; retry."""

    status = 503
