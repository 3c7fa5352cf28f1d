"""catalog.py: search snippets are escaped text with only the highlight marks as markup."""

from __future__ import annotations

from appliance.gallery.catalog import render_state, snippet_markup


def test_a_snippet_escapes_everything_but_its_marks() -> None:
    shown = snippet_markup("x <script>alert(1)</script> \x02momentum\x03 & more\x04second \x02hit\x03")
    assert str(shown) == ("x &lt;script&gt;alert(1)&lt;/script&gt; <mark>momentum</mark> &amp; more … "
                          "second <mark>hit</mark>")
    assert snippet_markup("no match here") is None and snippet_markup(None) is None


def test_a_claimed_job_reads_as_rendering() -> None:
    assert [render_state("queued", 0), render_state("queued", 1), render_state("failed", 3), render_state(None, None)] \
        == ["queued", "rendering", "failed", "none"]
