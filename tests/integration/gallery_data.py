"""Gallery rows written straight into a running appliance's database, for the pages' tests.

The pages read what publishing (publish.py) and the renderer store; these helpers store the same
shapes with SQL, so that the read side is tested on its own: ``publication(engine, author=..., ...)``
makes a publication with its versions (an .ipynb each, a render marked done or failed, a thumbnail),
``unpublish``/``hide`` set what the author and admins would.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from typing import Any

import nbformat
from sqlalchemy import Engine, text

from appliance.gallery.publish import new_slug


def notebook(*cells: tuple[str, str], title: str = "") -> dict[str, Any]:
    """A valid nbformat 4 notebook from (cell_type, source) pairs."""
    v4 = nbformat.v4
    made = [v4.new_markdown_cell(source) if kind == "markdown" else v4.new_code_cell(source) for kind, source in cells]
    document = v4.new_notebook(cells=made)
    if title:
        document.cells.insert(0, v4.new_markdown_cell(f"# {title}"))
    return json.loads(json.dumps(document))  # sources stay strings (nbformat.writes splits them in lines)


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A real PNG (grey pixels) made without Pillow."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    out = io.BytesIO()
    out.write(b"\x89PNG\r\n\x1a\n")
    out.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
    out.write(chunk(b"IDAT", zlib.compress(raw)))
    out.write(chunk(b"IEND", b""))
    return out.getvalue()


def _search_text(document: dict[str, Any]) -> tuple[str, str, str]:
    markdown = "\n".join(c["source"] for c in document["cells"] if c["cell_type"] == "markdown")
    code = "\n".join(c["source"] for c in document["cells"] if c["cell_type"] == "code")
    return markdown, code, f"{markdown}\n{code}"


def publication(engine: Engine, *, author: str, title: str, summary: str = "", tags: list[str] | None = None,
                visibility: str = "lab", group: str | None = None, versions: list[dict[str, Any]] | None = None,
                source_path: str = "analysis/Returns study.ipynb", rendered: bool = True,
                render_error: str | None = None, preview_html: str | None = None, thumbnail: bool = False,
                views: int = 0, clones: int = 0, age_s: float = 0, attempts: int = 0) -> str:
    """A publication with its versions (each a notebook dict); returns its slug."""
    slug = new_slug()  # as the portal makes them: a test slug starting with '-' read as an option once
    tags = tags or []
    versions = versions or [notebook(("markdown", f"# {title}"), ("code", "print('hello')"))]
    with engine.begin() as connection:
        markdown, code, _ = _search_text(versions[-1])
        publication_id = connection.execute(text(
            "INSERT INTO gallery.publications (slug, author, source_path, title, summary, tags, visibility, "
            "  visible_group, current_version, views, clones, created_at, updated_at, document) "
            "VALUES (:slug, :author, :path, :title, :summary, :tags, :visibility, :group, :current, :views, :clones, "
            "  now() - make_interval(secs => :age), now() - make_interval(secs => :age), "
            "  setweight(to_tsvector('english', :title || ' ' || array_to_string(CAST(:tags AS text[]), ' ')), 'A') "
            "  || setweight(to_tsvector('english', :summary), 'B') "
            "  || setweight(to_tsvector('english', :markdown), 'C') "
            "  || setweight(to_tsvector('english', :code), 'D')) RETURNING id"),
            {"slug": slug, "author": author, "path": source_path, "title": title, "summary": summary, "tags": tags,
             "visibility": visibility, "group": group, "current": len(versions), "views": views, "clones": clones,
             "age": age_s, "markdown": markdown, "code": code}).scalar_one()
        for number, document in enumerate(versions, start=1):
            add_version(connection, publication_id, number, document, rendered=rendered, render_error=render_error,
                        preview_html=preview_html, thumbnail=thumbnail, attempts=attempts)
    return slug


def add_version(connection: Any, publication_id: int, number: int, document: dict[str, Any], *, rendered: bool,
                render_error: str | None, preview_html: str | None, thumbnail: bool, attempts: int = 0) -> int:
    data = json.dumps(document).encode()
    *_, search_text = _search_text(document)
    version_id = int(connection.execute(text(
        "INSERT INTO gallery.versions (publication_id, number, notebook, size, sha256, search_text, html, "
        "  preview_html, rendered_at) VALUES (:id, :number, :notebook, :size, :sha, :search, :html, :preview, "
        "  CASE WHEN :rendered THEN now() END) RETURNING id"),
        {"id": publication_id, "number": number, "notebook": zlib.compress(data), "size": len(data),
         "sha": hashlib.sha256(data).digest(), "search": search_text, "rendered": rendered,
         "html": zlib.compress(b"<html><body>rendered</body></html>") if rendered else None,
         "preview": preview_html}).scalar_one())
    state = "done" if rendered else ("failed" if render_error else "queued")
    connection.execute(text("INSERT INTO gallery.render_jobs (version_id, state, error, attempts) "
                            "VALUES (:v, :state, :error, :attempts)"),
                       {"v": version_id, "state": state, "error": render_error, "attempts": attempts})
    if thumbnail:
        connection.execute(text("INSERT INTO gallery.thumbnails (version_id, position, png, width, height) "
                                "VALUES (:v, 0, :png, 4, 3)"), {"v": version_id, "png": tiny_png()})
    return version_id


def version_ids(engine: Engine, slug: str) -> dict[int, int]:
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT v.number, v.id FROM gallery.versions v JOIN gallery.publications p ON p.id = v.publication_id "
            "WHERE p.slug = :slug"), {"slug": slug}).all()
    return {row.number: row.id for row in rows}


def set_state(engine: Engine, slug: str, *, unpublished: bool = False, hidden: bool = False) -> None:
    with engine.begin() as connection:
        connection.execute(text(
            "UPDATE gallery.publications SET unpublished_at = CASE WHEN :u THEN now() END, "
            "hidden_at = CASE WHEN :h THEN now() END, hidden_reason = CASE WHEN :h THEN 'spam' END WHERE slug = :slug"),
            {"u": unpublished, "h": hidden, "slug": slug})


def counts(engine: Engine, slug: str) -> dict[str, int]:
    with engine.connect() as connection:
        row = connection.execute(text("SELECT views, clones FROM gallery.publications WHERE slug = :slug"),
                                 {"slug": slug}).one()
    return {"views": row.views, "clones": row.clones}
