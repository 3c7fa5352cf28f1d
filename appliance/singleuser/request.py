"""What the lab extension asks to publish, checked for shape only: the portal checks everything that
matters (a member controls this server, so nothing here is a safeguard for the portal)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_PATH_CHARS = 4096


class BadRequest(ValueError):
    """The request body is not a publish request; the message says which field is wrong."""


@dataclass(frozen=True)
class PublishRequest:
    path: str
    title: str
    summary: str
    tags: list[str]
    visibility: str
    strip_outputs: bool
    new_version_of: str | None

    def payload(self, notebook: dict[str, Any]) -> dict[str, Any]:
        """The portal's publish API body, with the saved notebook."""
        return {"notebook": notebook, "path": self.path, "title": self.title, "summary": self.summary,
                "tags": self.tags, "visibility": self.visibility, "strip_outputs": self.strip_outputs,
                "new_version_of": self.new_version_of}


def _text(body: dict[str, Any], key: str, default: str = "") -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise BadRequest(f"'{key}' must be a string, not {type(value).__name__}.")
    return value


def parse_publish(raw: bytes) -> PublishRequest:
    try:
        body = json.loads(raw or b"null")
    except ValueError as error:
        raise BadRequest(f"The request is not JSON: {error}.") from None
    if not isinstance(body, dict):
        raise BadRequest('The request must be a JSON object such as {"path": "analysis.ipynb", "title": "…"}.')
    path = _text(body, "path").strip("/")
    if not path:
        raise BadRequest("Say which notebook to publish: 'path' is empty.")
    if len(path) > MAX_PATH_CHARS:
        raise BadRequest(f"'path' is longer than {MAX_PATH_CHARS} characters.")
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise BadRequest("'tags' must be a list of strings.")
    strip_outputs = body.get("strip_outputs", False)
    if not isinstance(strip_outputs, bool):
        raise BadRequest("'strip_outputs' must be true or false.")
    new_version_of = body.get("new_version_of")
    if new_version_of is not None and (not isinstance(new_version_of, str) or not new_version_of):
        raise BadRequest("'new_version_of' must be an earlier publication's slug, or null for a new publication.")
    return PublishRequest(path, _text(body, "title"), _text(body, "summary"), tags,
                          _text(body, "visibility", "lab"), strip_outputs, new_version_of)
