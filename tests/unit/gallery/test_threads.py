"""threads.py: a comment's markdown becomes safe HTML; bodies are checked."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from appliance.gallery.threads import CommentRefused, check_body, render_markdown


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '<svg onload="alert(1)">',
    "[click](javascript:alert(1))", '<iframe src="/logout"></iframe>',
    '<form action="/logout"><button>x</button></form>', '<a href="https://example.org" onclick="alert(1)">x</a>',
    "![x](javascript:alert(1))", '<div><a href="javascript:alert(1)">x</a></div>',
])
def test_nothing_a_comment_says_runs_or_submits(hostile: str) -> None:
    parser = Elements()
    parser.feed(str(render_markdown(f"before\n\n{hostile}\n\nafter")))
    for tag, attributes in parser.found:  # what the browser would build: only harmless elements
        assert tag in {"p", "a", "em", "strong", "code"}, tag
        assert all(name in ("href", "rel") for name, _ in attributes), attributes
        assert not any((value or "").startswith("javascript:") for _, value in attributes)


def test_markdown_is_kept_and_links_do_not_leak_the_opener() -> None:
    shown = str(render_markdown("# Big\n\n**bold** `code` [docs](https://example.org)\n\n- one\n- two"))
    assert "<h4>Big</h4>" in shown and "<strong>bold</strong>" in shown and "<code>code</code>" in shown
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">docs</a>' in shown
    assert "<li>one</li>" in shown


def test_empty_and_oversized_comments_are_refused_with_a_reason() -> None:
    with pytest.raises(CommentRefused, match="Write something"):
        check_body("  \r\n ")
    with pytest.raises(CommentRefused, match="at most 10,000 characters"):
        check_body("x" * 10_001)
    assert check_body(" hi\r\nthere ") == "hi\nthere"
