"""A publication's discussion thread: comments in markdown, sanitised when shown.

The body is kept as written; it is rendered with mistune (raw HTML escaped, not passed through) and
the result is cleaned again with nh3 (a tag and attribute allowlist, http(s)/mailto links only, links
``rel="nofollow noopener noreferrer"``): script in a comment shows as text. Members edit and delete
their own comments; admins delete any (a deleted comment keeps its place, saying by whom).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import mistune
import nh3
from markupsafe import Markup
from sqlalchemy import Engine, text

MAX_BODY = 10_000  # characters of one comment
TAGS = {"p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h3", "h4", "h5",
        "h6", "hr", "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
_markdown = mistune.create_markdown(escape=True, plugins=["strikethrough", "table", "url"])


class CommentRefused(Exception):
    """The comment cannot be saved or changed; the message says why and what to do."""


@dataclass(frozen=True)
class Comment:
    id: int
    author: str
    body: str
    created_at: datetime
    edited_at: datetime | None
    deleted_by: str | None

    @property
    def html(self) -> Markup:
        return render_markdown(self.body)


def render_markdown(body: str) -> Markup:
    """A comment's markdown as safe HTML."""
    rendered = _markdown(body)
    assert isinstance(rendered, str)
    # headings are demoted below the page's own; the allowlist drops anything else
    for level in (1, 2):
        rendered = rendered.replace(f"<h{level}>", "<h4>").replace(f"</h{level}>", "</h4>")
    return Markup(nh3.clean(rendered, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                            link_rel="nofollow noopener noreferrer"))


def check_body(body: str) -> str:
    body = body.replace("\r\n", "\n").strip()
    if not body:
        raise CommentRefused("Write something before posting.")
    if len(body) > MAX_BODY:
        raise CommentRefused(f"A comment can be at most {MAX_BODY:,} characters; this one has {len(body):,}.")
    return body


class Threads:
    def __init__(self, engine: Engine):
        self.engine = engine

    def comments(self, publication_id: int) -> list[Comment]:
        with self.engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT id, author, body, created_at, edited_at, deleted_by FROM gallery.comments "
                "WHERE publication_id = :id ORDER BY created_at, id"), {"id": publication_id}).all()
        return [Comment(id=r.id, author=r.author, body=r.body if r.deleted_by is None else "",
                        created_at=r.created_at, edited_at=r.edited_at, deleted_by=r.deleted_by) for r in rows]

    def add(self, publication_id: int, author: str, body: str) -> int:
        with self.engine.begin() as connection:
            return int(connection.execute(text(
                "INSERT INTO gallery.comments (publication_id, author, body) VALUES (:id, :author, :body) "
                "RETURNING id"), {"id": publication_id, "author": author, "body": check_body(body)}).scalar_one())

    def edit(self, publication_id: int, comment_id: int, username: str, body: str) -> None:
        """Only its author edits a comment, and not once it is deleted."""
        with self.engine.begin() as connection:
            changed = connection.execute(text(
                "UPDATE gallery.comments SET body = :body, edited_at = now() WHERE id = :comment "
                "AND publication_id = :id AND author = :username AND deleted_at IS NULL"),
                {"id": publication_id, "comment": comment_id, "username": username, "body": check_body(body)})
        if changed.rowcount != 1:
            raise CommentRefused("You can edit only your own comments, and not once they are deleted.")

    def delete(self, publication_id: int, comment_id: int, username: str, is_admin: bool) -> None:
        """Its author or an admin deletes a comment; the text goes, its place in the thread stays."""
        with self.engine.begin() as connection:
            changed = connection.execute(text(
                "UPDATE gallery.comments SET body = '', deleted_at = now(), deleted_by = :username "
                "WHERE id = :comment AND publication_id = :id AND deleted_at IS NULL "
                "AND (author = :username OR :admin)"),
                {"id": publication_id, "comment": comment_id, "username": username, "admin": is_admin})
        if changed.rowcount != 1:
            raise CommentRefused("You can delete only your own comments (administrators can delete any).")
