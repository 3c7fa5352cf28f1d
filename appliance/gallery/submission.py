"""What a publish request may carry, checked: the notebook (nbformat 4, within ``gallery.max_size_bytes``),
title, summary, tags, visibility, and what the gallery keeps of it (outputs stripped on request, the text
for search, the lineage a clone records). Pure and CPU-bound: the portal runs it off its event loop.

Every refusal is a ``BadRequest`` (400) or ``TooLarge`` (413) whose message names the field, the rule
and the limit, so the publish dialog can show it as it is.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import zlib
from dataclasses import dataclass
from typing import Any

import nbformat

from appliance.gallery.errors import BadRequest, TooLarge

MAX_TITLE_CHARS = 200
MAX_SUMMARY_CHARS = 2000
MAX_TAGS = 10
TAG_PATTERN = re.compile(r"^[a-z0-9+.-]{1,40}$")
TAG_RULE = "1 to 40 characters: lowercase letters, digits, '-', '+' and '.'"
MAX_PATH_CHARS = 4096
# the request is the notebook wrapped in a JSON envelope with the dialog's fields: this much more is allowed
ENVELOPE_BYTES = 64 * 1024
# how much of the markdown, and of the code, is indexed for search and kept for snippets (a tsvector
# holds at most 1 MB; a notebook's prose and code are far smaller than its outputs)
MAX_SEARCH_CHARS = 100_000
HUFFMAN_FROM_BYTES = 1_000_000  # notebooks at least this big are compressed with Huffman coding only
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Submission:
    """A checked publish request, ready to store."""

    path: str
    title: str
    summary: str
    tags: list[str]
    visibility: str  # as sent: "lab", "unlisted" or "group:<name>" (checked against groups by the publisher)
    new_version_of: str | None
    notebook: bytes  # the .ipynb as stored (outputs stripped if asked), uncompressed
    compressed: bytes  # zlib of ``notebook``, as the versions table keeps it
    sha256: bytes
    outputs_stripped: bool
    markdown: str  # the markdown cells' text, for search (weight C)
    code: str  # the code cells' text, for search (weight D)
    cloned_from: tuple[str, int] | None  # metadata.appliance.cloned_from: (slug, version)

    @property
    def size(self) -> int:
        return len(self.notebook)

    @property
    def search_text(self) -> str:
        return f"{self.markdown}\n\n{self.code}".strip()


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{size} bytes"


def too_large(size: int, limit: int) -> TooLarge:
    return TooLarge(f"the notebook is {human_size(size)}; the gallery takes notebooks of at most {human_size(limit)} "
                    f"(gallery.max_size_bytes = {limit}). Clear large outputs, or publish with \"strip outputs\".")


def body_limit(max_size_bytes: int) -> int:
    """The largest request body worth reading for a notebook of at most ``max_size_bytes``."""
    return max_size_bytes + ENVELOPE_BYTES


def parse_submission(body: bytes, max_size_bytes: int) -> Submission:
    """Check a publish request's JSON body (see api.py) and prepare what is stored."""
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON ({exc}).") from None
    except RecursionError:
        raise BadRequest("the request body nests JSON too deeply to be a notebook.") from None
    if not isinstance(request, dict):
        raise BadRequest("the request body must be a JSON object with the notebook and its title, tags and visibility.")
    strip = request.get("strip_outputs", False)
    if not isinstance(strip, bool):
        raise BadRequest("strip_outputs must be true or false.")
    notebook = check_notebook(request.get("notebook"))
    if strip:
        strip_outputs(notebook)
    # as nbformat writes it, but ASCII-escaped: json's C encoder is ~5x slower with ensure_ascii=False
    try:
        stored = (json.dumps(notebook, indent=1, sort_keys=True) + "\n").encode()
    except RecursionError:  # json.loads took it with less of the stack used
        raise BadRequest("the notebook nests JSON too deeply.") from None
    if len(stored) > max_size_bytes:
        raise too_large(len(stored), max_size_bytes)
    markdown, code = notebook_text(notebook)
    return Submission(
        path=check_path(request.get("path")), title=check_title(request.get("title")),
        summary=check_summary(request.get("summary", "")), tags=check_tags(request.get("tags", [])),
        visibility=check_choice(request.get("visibility", "lab")),
        new_version_of=check_slug_field(request.get("new_version_of")),
        notebook=stored, compressed=compress(stored), sha256=hashlib.sha256(stored).digest(),
        outputs_stripped=strip, markdown=markdown, code=code, cloned_from=cloned_from(notebook))


def compress(notebook: bytes) -> bytes:
    """zlib, as the versions table keeps notebooks. A big notebook is big because of its outputs (base64
    images, which LZ77 barely shrinks): Huffman coding alone takes them to ~3/4 at ~4x the speed."""
    strategy = zlib.Z_HUFFMAN_ONLY if len(notebook) >= HUFFMAN_FROM_BYTES else zlib.Z_DEFAULT_STRATEGY
    compressor = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS, 8, strategy)
    return compressor.compress(notebook) + compressor.flush()


def check_notebook(notebook: Any) -> dict[str, Any]:
    """The notebook as a JSON object valid against nbformat 4's schema; 400 naming nbformat's error."""
    if not isinstance(notebook, dict):
        raise BadRequest("\"notebook\" must be the notebook's JSON object (the .ipynb's content).")
    if notebook.get("nbformat") != 4:
        raise BadRequest(f"the notebook is nbformat {notebook.get('nbformat')!r}; the gallery takes nbformat 4 "
                         "(open and save it in JupyterLab to upgrade it).")
    if not isinstance(notebook.get("cells"), list) or not all(isinstance(cell, dict) for cell in notebook["cells"]):
        raise BadRequest("the notebook is not valid nbformat 4: \"cells\" must be a list of cell objects.")
    repair_cell_ids(notebook)
    try:
        nbformat.validate(notebook)
    except RecursionError:
        raise BadRequest("the notebook is not valid nbformat 4: it nests too deeply.") from None
    except (KeyError, TypeError, AttributeError) as error:  # shapes so wrong that nbformat trips before its schema
        raise BadRequest(f"the notebook is not valid nbformat 4: {type(error).__name__} {error}.") from None
    except nbformat.ValidationError as error:
        where = "/".join(str(part) for part in getattr(error, "absolute_path", ()) or ())
        message = str(getattr(error, "message", error)).splitlines()[0][:300]
        raise BadRequest(f"the notebook is not valid nbformat 4: {message}"
                         + (f" (at {where})" if where else "") + ".") from None
    return notebook


def repair_cell_ids(notebook: dict[str, Any]) -> None:
    """Give cells of an nbformat 4.5+ notebook without an id, or with another cell's id, a new one (as
    nbformat's validate does, but without its warnings)."""
    cells, minor = notebook.get("cells"), notebook.get("nbformat_minor")
    if not (isinstance(cells, list) and isinstance(minor, int) and minor >= 5):
        return
    seen: set[Any] = set()
    for cell in cells:
        if isinstance(cell, dict) and ("id" not in cell or isinstance(cell["id"], str)):
            if cell.get("id") in seen or "id" not in cell:
                cell["id"] = secrets.token_hex(4)
            seen.add(cell["id"])


def check_title(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        raise BadRequest("a title is required (a non-empty string).")
    # (a title that long is refused whatever its spaces: it is not worth cleaning)
    clean = " ".join(_CONTROL.sub(" ", title).split()) if len(title) <= 4 * MAX_TITLE_CHARS else title
    if len(clean) > MAX_TITLE_CHARS:
        raise BadRequest(f"the title has {len(clean)} characters; at most {MAX_TITLE_CHARS} are allowed.")
    return clean


def check_summary(summary: Any) -> str:
    if summary is None:
        return ""
    if not isinstance(summary, str):
        raise BadRequest("the summary must be a string.")
    clean = _CONTROL.sub(" ", summary.replace("\r\n", "\n")).strip()
    if len(clean) > MAX_SUMMARY_CHARS:
        raise BadRequest(f"the summary has {len(clean)} characters; at most {MAX_SUMMARY_CHARS} are allowed.")
    return clean


def check_tags(tags: Any) -> list[str]:
    """Lowercased, without repeats, in the order given."""
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise BadRequest("tags must be a list of strings.")
    checked: list[str] = []
    for raw in tags:
        tag = raw.strip().lower()
        if not TAG_PATTERN.match(tag):
            raise BadRequest(f"the tag {raw[:60]!r} is not allowed: a tag has {TAG_RULE}.")
        if tag not in checked:
            checked.append(tag)
        if len(checked) > MAX_TAGS:
            raise BadRequest(f"more than {MAX_TAGS} tags were given; a publication has at most {MAX_TAGS}.")
    return checked


def check_choice(visibility: Any) -> str:
    if not isinstance(visibility, str):
        raise BadRequest("visibility must be \"lab\", \"unlisted\" or \"group:<name>\".")
    return visibility


def check_path(path: Any) -> str:
    if not isinstance(path, str) or not path.strip("/"):
        raise BadRequest("\"path\" must name the notebook in your files (e.g. \"analysis/returns.ipynb\").")
    if len(path) > MAX_PATH_CHARS or _CONTROL.search(path):
        raise BadRequest(f"the path is longer than {MAX_PATH_CHARS} characters or holds control characters.")
    return path.strip("/")


def check_slug_field(slug: Any) -> str | None:
    if slug is None or slug == "":
        return None
    if not isinstance(slug, str) or len(slug) > 64:
        raise BadRequest("new_version_of must be null or the slug of one of your publications.")
    return slug


def strip_outputs(notebook: dict[str, Any]) -> None:
    """Remove every code cell's outputs and execution count, in place."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def notebook_text(notebook: dict[str, Any]) -> tuple[str, str]:
    """The markdown cells' text and the code cells' text, each at most MAX_SEARCH_CHARS."""
    parts: dict[str, list[str]] = {"markdown": [], "code": []}
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") in parts:
            parts[cell["cell_type"]].append(_source(cell))
    markdown, code = ("\n\n".join(parts[kind]).replace("\x00", "") for kind in ("markdown", "code"))
    return markdown[:MAX_SEARCH_CHARS], code[:MAX_SEARCH_CHARS]  # (PostgreSQL's text holds no NUL; JSON may)


def cloned_from(notebook: dict[str, Any]) -> tuple[str, int] | None:
    """``metadata.appliance.cloned_from`` as (slug, version), if the notebook carries a well-formed one."""
    appliance = notebook.get("metadata", {}).get("appliance")
    origin = appliance.get("cloned_from") if isinstance(appliance, dict) else None
    if not isinstance(origin, dict):
        return None
    slug, version = origin.get("publication"), origin.get("version")
    if isinstance(slug, str) and 0 < len(slug) <= 64 and isinstance(version, int) and not isinstance(version, bool) \
            and version >= 1:
        return slug, version
    return None
