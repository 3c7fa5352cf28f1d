"""The gallery's pages on a running appliance, through signed-in browser clients: who sees what by every
URL, 410 after unpublishing, escaping, clone naming and lineage, the thread's permissions, sort and
pagination; members' reports and the admin console's moderation (its API and pages). Publications are
written with SQL (gallery_data.py): the read side on its own."""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from tests.harness import Appliance, mint_storage_token
from tests.integration import gallery_data as data
from tests.integration.oauth import add_user, browser_client, form_value, sign_in

pytestmark = pytest.mark.integration
SCRIPT = "<script>alert(1)</script>"


@dataclass
class Member:
    name: str
    http: httpx.Client

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get(path, params=params)

    def post_form(self, page_path: str, action: str, **fields: str) -> httpx.Response:
        """Post a form the way the page's own form does: its CSRF token, the portal's Origin."""
        page = self.http.get(page_path)
        assert page.status_code == 200, page.text[:300]
        return self.http.post(action, data={"csrf_token": form_value(page.text, "csrf_token"), **fields})

    def admin_api(self, method: str, path: str, body: dict[str, Any] | None = None, **params: str) -> httpx.Response:
        """The admin API as the console's scripts call it: the session, its CSRF token in the header."""
        csrf = form_value(self.http.get("/account/password").text, "csrf_token")
        return self.http.request(method, f"/api/admin/v1{path}", json=body, params=params,
                                 headers={"X-CSRF-Token": csrf})


@pytest.fixture(scope="module")
def engine(portal_in_process: Appliance) -> Iterator[Engine]:
    made = create_engine(portal_in_process.database_url())
    yield made
    made.dispose()


@pytest.fixture(scope="module")
def members(portal_in_process: Appliance) -> Iterator[dict[str, Member]]:
    """alice and bob are in group quant, carol is not, root is an admin (names made unique)."""
    made: dict[str, Member] = {}
    portal = portal_in_process.public_portal_url
    suffix = uuid.uuid4().hex[:6]
    for role, args in {"alice": ("--group", "quant"), "bob": ("--group", "quant"), "carol": (),
                       "root": ("--admin",)}.items():
        name = f"{role}{suffix}"
        password = add_user(portal_in_process, name, *args)
        client = browser_client(base_url=portal, headers={"Origin": portal})
        assert sign_in(client, portal, name, password).status_code == 303
        made[role] = Member(name, client)
    yield made
    for member in made.values():
        member.http.close()


def read_file(appliance: Appliance, member: str, path: str) -> httpx.Response:
    token = mint_storage_token(appliance, member)
    return httpx.get(f"{appliance.portal_url}/api/storage/v1/read/{quote(path)}",
                     headers={"Authorization": f"Bearer {token}"})


def write_file(appliance: Appliance, member: str, path: str, body: bytes) -> None:
    token = mint_storage_token(appliance, member)
    reply = httpx.put(f"{appliance.portal_url}/api/storage/v1/write/{quote(path)}", content=body,
                      headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code in (200, 201), reply.text


def test_signed_out_visitors_are_sent_to_sign_in(portal_in_process: Appliance) -> None:
    with browser_client(base_url=portal_in_process.public_portal_url) as anonymous:
        reply = anonymous.get("/gallery")
    assert reply.status_code == 303 and reply.headers["location"].startswith("/login?next=%2Fgallery")


def test_a_group_only_publication_is_404_to_an_outsider_by_every_url(
        engine: Engine, members: dict[str, Member]) -> None:
    word = f"zephyr{uuid.uuid4().hex[:6]}"
    slug = data.publication(engine, author=members["alice"].name, title=f"Group secret {word}", visibility="group",
                            group="quant", tags=[word], thumbnail=True)
    version = data.version_ids(engine, slug)[1]
    urls = [f"/gallery/p/{slug}", f"/gallery/p/{slug}/v/1", f"/gallery/p/{slug}/v/1/notebook.ipynb",
            f"/gallery/thumbnails/{version}/0.png"]
    for who, status in (("bob", 200), ("alice", 200), ("root", 200), ("carol", 404)):
        for url in urls:
            assert members[who].get(url).status_code == status, (who, url)
        listing = members[who].get("/gallery", q=word).text + members[who].get("/gallery", tag=word).text
        assert (f"Group secret {word}" in listing) is (status == 200), who
    outsider = members["carol"]
    assert f"Group secret {word}" not in outsider.get(f"/gallery/p/{slug}").text
    clone = outsider.post_form("/gallery", f"/gallery/p/{slug}/clone", version="1")
    assert clone.status_code == 404
    assert data.counts(engine, slug)["clones"] == 0


def test_unlisted_is_reached_by_its_link_only(engine: Engine, members: dict[str, Member]) -> None:
    word = f"quasar{uuid.uuid4().hex[:6]}"
    slug = data.publication(engine, author=members["alice"].name, title=f"Unlisted {word}", visibility="unlisted",
                            tags=[word])
    carol = members["carol"]
    assert carol.get(f"/gallery/p/{slug}").status_code == 200
    assert f"Unlisted {word}" not in carol.get("/gallery", q=word).text + carol.get("/gallery", tag=word).text


def test_unpublished_is_410_to_those_who_saw_it_and_hidden_is_404(engine: Engine, members: dict[str, Member]) -> None:
    gone = data.publication(engine, author=members["alice"].name, title="Soon gone", thumbnail=True)
    secret = data.publication(engine, author=members["alice"].name, title="Quant only", visibility="group",
                              group="quant")
    hidden = data.publication(engine, author=members["alice"].name, title="Hidden by admin")
    for slug in (gone, secret):
        data.set_state(engine, slug, unpublished=True)
    data.set_state(engine, hidden, hidden=True)
    page = members["bob"].get(f"/gallery/p/{gone}/v/1")
    assert page.status_code == 410 and "unpublished" in page.text
    assert members["bob"].get(f"/gallery/p/{gone}/v/1/notebook.ipynb").status_code == 410
    assert members["bob"].get(f"/gallery/p/{secret}").status_code == 410
    assert members["carol"].get(f"/gallery/p/{secret}").status_code == 404  # never saw it: it never existed
    assert "Soon gone" not in members["bob"].get("/gallery").text
    assert members["bob"].get(f"/gallery/p/{hidden}").status_code == 404
    assert members["alice"].get(f"/gallery/p/{hidden}").status_code == 200  # the author, told it is hidden
    assert "hid this publication" in members["alice"].get(f"/gallery/p/{hidden}").text
    assert members["root"].get(f"/gallery/p/{hidden}").status_code == 200


def test_script_in_title_summary_tags_and_comments_shows_as_text(engine: Engine, members: dict[str, Member]) -> None:
    word = f"xss{uuid.uuid4().hex[:6]}"
    slug = data.publication(engine, author=members["alice"].name, title=f"{SCRIPT} {word}",
                            summary=f"<img src=x onerror=alert(1)> {word}", tags=[word, "<b>bold</b>"],
                            versions=[data.notebook(("markdown", f"{SCRIPT} findings {word}"))])
    bob = members["bob"]
    posted = bob.post_form(f"/gallery/p/{slug}", f"/gallery/p/{slug}/comments",
                           body=f"{SCRIPT}\n\n[click](javascript:alert(1)) <img src=x onerror=alert(2)> **{word}**")
    assert posted.status_code == 303
    for page in (bob.get(f"/gallery/p/{slug}").text, bob.get("/gallery", q=word).text, bob.get("/gallery").text):
        assert SCRIPT not in page and "<img src=x" not in page and "<b>bold</b>" not in page
        assert 'href="javascript:' not in page
    shown = bob.get(f"/gallery/p/{slug}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and f"<strong>{word}</strong>" in shown
    snippet = bob.get("/gallery", q=f"findings {word}").text
    assert f"<mark>{word}</mark>" in snippet and "&lt;script&gt;" in snippet


def test_search_ranks_highlights_and_says_when_nothing_matches(engine: Engine, members: dict[str, Member]) -> None:
    word = f"heliotrope{uuid.uuid4().hex[:6]}"
    weak = data.publication(engine, author=members["alice"].name, title="Weak match",
                            versions=[data.notebook(("code", f"# {word}\nx = 1"))])
    strong = data.publication(engine, author=members["alice"].name, title=f"The {word} study", tags=[word])
    page = members["bob"].get("/gallery", q=word).text
    assert page.index(f"/gallery/p/{strong}") < page.index(f"/gallery/p/{weak}")
    assert "2 publications" in page
    nothing = members["bob"].get("/gallery", q=f"{word} -{word}")
    assert nothing.status_code == 200 and "Nothing matches" in nothing.text


def test_sort_and_pagination(engine: Engine, members: dict[str, Member]) -> None:
    tag = f"sorting{uuid.uuid4().hex[:6]}"
    slugs = [data.publication(engine, author=members["alice"].name, title=f"Sorted {i}", tags=[tag], views=i * 10,
                              clones=30 - i, age_s=1000 - i) for i in range(30)]
    bob = members["bob"]

    def order(**params: str) -> list[str]:
        found = re.findall(r'<h2><a href="/gallery/p/([^"]+)">', bob.get("/gallery", tag=tag, **params).text)
        return found

    assert order() == list(reversed(slugs))[:24]  # newest first, 24 a page
    assert order(page="2") == list(reversed(slugs))[24:]
    assert order(sort="views")[:3] == [slugs[29], slugs[28], slugs[27]]
    assert order(sort="clones")[:3] == [slugs[0], slugs[1], slugs[2]]
    assert "Page 2</span>" in bob.get("/gallery", tag=tag, page="2").text and 'rel="next"' not in \
        bob.get("/gallery", tag=tag, page="2").text
    assert order(page="99") == list(reversed(slugs))[24:]  # past the end: the last page
    listing = bob.get("/gallery").text  # unfiltered: a next page when there is one, no total (not counted)
    assert 'rel="next"' in listing and "Page 1</span>" in listing


def test_views_count_once_per_member_per_day(engine: Engine, members: dict[str, Member]) -> None:
    slug = data.publication(engine, author=members["alice"].name, title="Viewed")
    members["alice"].get(f"/gallery/p/{slug}")  # the author's own visits are not counted
    for _ in range(3):
        members["bob"].get(f"/gallery/p/{slug}")
    members["carol"].get(f"/gallery/p/{slug}/v/1")
    deadline = time.monotonic() + 5  # views are counted once the page is sent
    while data.counts(engine, slug)["views"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert data.counts(engine, slug)["views"] == 2


def test_clone_lands_in_the_viewers_files_without_clobbering_and_records_lineage(
        portal_in_process: Appliance, engine: Engine, members: dict[str, Member]) -> None:
    first = data.notebook(("markdown", "# Version one"), ("code", "x = 1"))
    second = data.notebook(("markdown", "# Version two"), ("code", "x = 2"))
    slug = data.publication(engine, author=members["alice"].name, title="Clone me", versions=[first, second],
                            source_path="studies/Returns study.ipynb")
    bob = members["bob"]
    write_file(portal_in_process, bob.name, "Returns study.ipynb", b'{"mine": true}')
    paths = []
    for version in ("1", "2"):
        cloned = bob.post_form(f"/gallery/p/{slug}/v/{version}", f"/gallery/p/{slug}/clone", version=version)
        assert cloned.status_code == 303, cloned.text[:300]
        assert cloned.headers["location"].startswith("/research?open=")
        paths.append(httpx.URL(cloned.headers["location"]).params["open"])
    assert paths == ["Returns study (2).ipynb", "Returns study (3).ipynb"]
    assert read_file(portal_in_process, bob.name, "Returns study.ipynb").content == b'{"mine": true}'
    one = json.loads(read_file(portal_in_process, bob.name, paths[0]).content)
    assert one["metadata"]["appliance"]["cloned_from"] == {"publication": slug, "version": 1, "title": "Clone me"}
    assert one["cells"][0]["source"] == "# Version one"
    assert json.loads(read_file(portal_in_process, bob.name, paths[1]).content)["cells"][0]["source"] == "# Version two"
    assert data.counts(engine, slug)["clones"] == 2
    forged = bob.http.post(f"/gallery/p/{slug}/clone", data={"csrf_token": "forged", "version": "1"})
    assert forged.status_code == 403 and data.counts(engine, slug)["clones"] == 2


def test_the_thread_edit_and_delete_your_own_admins_delete_any(engine: Engine, members: dict[str, Member]) -> None:
    slug = data.publication(engine, author=members["alice"].name, title="Discussed")
    page = f"/gallery/p/{slug}"
    bob, carol, root = members["bob"], members["carol"], members["root"]
    posted = bob.post_form(page, f"{page}/comments", body="First thoughts")
    comment = posted.headers["location"].rsplit("#comment-", 1)[1]
    assert carol.post_form(page, f"{page}/comments/{comment}/edit", body="hijacked").status_code == 303
    assert carol.post_form(page, f"{page}/comments/{comment}/delete").status_code == 303
    assert "First thoughts" in bob.get(page).text and "hijacked" not in bob.get(page).text
    assert bob.post_form(page, f"{page}/comments/{comment}/edit", body="Second thoughts").status_code == 303
    assert "Second thoughts" in carol.get(page).text and "edited" in carol.get(page).text
    forged = carol.http.post(f"{page}/comments", data={"csrf_token": "x", "body": "forged"})
    assert forged.status_code == 403 and "forged" not in bob.get(page).text
    assert root.post_form(page, f"{page}/comments/{comment}/delete").status_code == 303
    shown = bob.get(page).text
    assert "Second thoughts" not in shown and "deleted by an administrator" in shown


def test_versions_show_what_changed_and_the_render_state(engine: Engine, members: dict[str, Member]) -> None:
    first = data.notebook(("markdown", "# Study"), ("code", "alpha = 1\nprint(alpha)"))
    second = data.notebook(("markdown", "# Study"), ("code", "alpha = 2\nprint(alpha)"), ("code", "plot(alpha)"))
    second["cells"][0]["id"] = first["cells"][0]["id"]
    slug = data.publication(engine, author=members["alice"].name, title="Changing", versions=[first, second],
                            rendered=False, render_error="The notebook took longer than 120 s to render.")
    bob_page = members["bob"].get(f"/gallery/p/{slug}").text
    alice_page = members["alice"].get(f"/gallery/p/{slug}").text
    assert "1 cell added, 1 cell modified since version 1" in bob_page
    assert "- alpha = 1" in bob_page and "+ alpha = 2" in bob_page and "+ plot(alpha)" in bob_page
    assert "took longer than 120 s" in alice_page and "took longer than 120 s" not in bob_page
    assert "could not be displayed" in bob_page


def test_a_version_waiting_for_its_render_says_where_it_stands(engine: Engine, members: dict[str, Member]) -> None:
    rendering = data.publication(engine, author=members["alice"].name, title="In the renderer", rendered=False,
                                 attempts=1)
    waiting = data.publication(engine, author=members["alice"].name, title="In the queue", rendered=False)
    with engine.begin() as connection:  # held, so the appliance's renderer skips these jobs (SKIP LOCKED)
        connection.execute(text(
            "SELECT j.id FROM gallery.render_jobs j JOIN gallery.versions v ON v.id = j.version_id "
            "JOIN gallery.publications p ON p.id = v.publication_id WHERE p.slug IN (:a, :b) FOR UPDATE OF j"),
            {"a": rendering, "b": waiting})
        assert "Being rendered" in members["bob"].get(f"/gallery/p/{rendering}").text
        page = members["bob"].get(f"/gallery/p/{waiting}").text
        assert re.search(r"Waiting to be rendered \(\d+ ahead in the queue\)", page) and "<iframe" not in page
        assert "rendering" in members["alice"].get("/gallery/mine").text


def test_the_publication_page_frames_the_render_sandboxed_and_the_thumbnail_is_a_png(
        engine: Engine, members: dict[str, Member]) -> None:
    slug = data.publication(engine, author=members["alice"].name, title="Framed", thumbnail=True)
    page = members["bob"].get(f"/gallery/p/{slug}").text
    frame = re.search(r"<iframe[^>]*>", page, re.S)
    assert frame and 'sandbox="allow-scripts"' in frame.group(0)
    assert "allow-same-origin" not in frame.group(0) and f"/gallery/rendered/{slug}/v/1?" in frame.group(0)
    link = re.search(r'src="([^"]+)"', frame.group(0))
    assert link is not None
    source = html.unescape(link.group(1))
    with browser_client() as frame_loader:  # the frame's request: a host of its own, no portal cookie
        rendered = frame_loader.get(source)
        assert rendered.status_code == 200 and "rendered" in rendered.text
        assert rendered.headers["content-security-policy"].startswith("sandbox allow-scripts;")
        assert frame_loader.get(source.split("?")[0]).status_code == 404  # not without the page's signed link
    download = members["bob"].get(f"/gallery/p/{slug}/v/1/notebook.ipynb")
    assert json.loads(download.content)["cells"][0]["source"] == "# Framed"
    assert download.headers["content-disposition"].startswith('attachment; filename="Returns study v1.ipynb"')
    version = data.version_ids(engine, slug)[1]
    thumbnail = members["bob"].get(f"/gallery/thumbnails/{version}/0.png")
    assert thumbnail.headers["content-type"] == "image/png"
    assert thumbnail.headers["x-content-type-options"] == "nosniff"
    assert thumbnail.content.startswith(b"\x89PNG")


def test_only_the_author_edits_and_unpublishes_and_bad_edits_say_why(engine: Engine,
                                                                    members: dict[str, Member]) -> None:
    slug = data.publication(engine, author=members["alice"].name, title="Editable", tags=["one"])
    alice, carol = members["alice"], members["carol"]
    edited = alice.post_form("/gallery/mine", f"/gallery/mine/{slug}", title=f"{SCRIPT} Edited",
                             summary="New summary", tags="two, three", visibility="group:quant")
    assert edited.status_code == 303
    page = members["bob"].get(f"/gallery/p/{slug}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Edited" in page and SCRIPT not in page
    assert members["carol"].get(f"/gallery/p/{slug}").status_code == 404  # now for the group only
    refused = alice.post_form("/gallery/mine", f"/gallery/mine/{slug}", title="x", visibility="group:nobody")
    assert refused.status_code == 403 and "not in the group" in refused.text
    assert alice.post_form("/gallery/mine", f"/gallery/mine/{slug}", title="", visibility="lab").status_code == 400
    theirs = carol.post_form("/gallery/mine", f"/gallery/mine/{slug}", title="Mine now", visibility="lab")
    assert theirs.status_code == 403 and "is not yours" in theirs.text
    assert carol.get(f"/gallery/mine/{slug}/unpublish").status_code == 404
    assert carol.post_form("/gallery/mine", f"/gallery/mine/{slug}/unpublish").status_code == 404
    assert members["bob"].get(f"/gallery/p/{slug}").status_code == 200
    assert alice.post_form(f"/gallery/mine/{slug}/unpublish", f"/gallery/mine/{slug}/unpublish").status_code == 303
    assert members["bob"].get(f"/gallery/p/{slug}").status_code == 410
    assert slug not in alice.get("/gallery/mine").text


def test_lineage_links_to_the_source_only_for_those_who_may_see_it(engine: Engine,
                                                                   members: dict[str, Member]) -> None:
    source = data.publication(engine, author=members["alice"].name, title="Original quant study", visibility="group",
                              group="quant")
    derived = data.publication(engine, author=members["bob"].name, title="Built upon")
    with engine.begin() as connection:
        connection.execute(text(
            "UPDATE gallery.publications SET derived_from_id = (SELECT id FROM gallery.publications WHERE slug = :s), "
            "derived_from_version = 1 WHERE slug = :d"), {"s": source, "d": derived})
    insider = members["bob"].get(f"/gallery/p/{derived}").text
    assert f'href="/gallery/p/{source}/v/1">Original quant study</a>' in insider
    outsider = members["carol"].get(f"/gallery/p/{derived}").text
    assert "Original quant study" not in outsider and source not in outsider
    assert "a publication not shared with you" in outsider


# ----- reports and moderation ---------------------------------------------------------------------------

def card_slugs(page: str) -> list[str]:
    return re.findall(r'<h2><a href="/gallery/p/([^"]+)">', page)


def audit_actions(engine: Engine, target: str, last: str) -> list[str]:
    """The audit log's actions on ``target``, oldest first, once ``last`` is among them (the log writes in
    batches, a moment after the request)."""
    deadline = time.monotonic() + 10
    while True:
        with engine.connect() as connection:
            found = list(connection.execute(text("SELECT action FROM audit.events WHERE target = :t ORDER BY id"),
                                            {"t": target}).scalars())
        if last in found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_member_reports_what_they_see_once_and_never_their_own_or_what_they_cannot_see(
        engine: Engine, members: dict[str, Member]) -> None:
    alice, bob, carol, root = (members[name] for name in ("alice", "bob", "carol", "root"))
    slug = data.publication(engine, author=alice.name, title="Reportable")
    secret = data.publication(engine, author=alice.name, title="Quant only", visibility="group", group="quant")
    page = f"/gallery/p/{slug}"
    assert 'action="/gallery/p/' + slug + '/report"' in bob.get(page).text
    assert "/report" not in alice.get(page).text  # the author is offered no Report

    sent = bob.post_form(page, f"{page}/report", reason="private-data", detail=f"{SCRIPT} shows my API key")
    assert sent.status_code == 303 and sent.headers["location"] == f"{page}?reported=1"
    assert "your report was sent" in bob.get(page, reported="1").text
    again = bob.post_form(page, f"{page}/report", reason="spam", detail="and it is spam")
    assert again.status_code == 303
    reports = root.admin_api("GET", "/gallery/reports", slug=slug).json()["reports"]
    assert [(r["reporter"], r["reason"], r["detail"]) for r in reports] == [(bob.name, "spam", "and it is spam")]

    own = alice.post_form(page, f"{page}/report", reason="spam")
    assert own.status_code == 303 and "report_error" in own.headers["location"]
    assert "cannot report your own" in alice.http.get(own.headers["location"]).text
    bad = carol.post_form(page, f"{page}/report", reason="because", detail="x")
    assert "report_error" in bad.headers["location"]
    long = carol.post_form(page, f"{page}/report", reason="other", detail="x" * 2001)
    assert "report_error" in long.headers["location"]
    assert carol.post_form("/gallery", f"/gallery/p/{secret}/report", reason="spam").status_code == 404
    assert carol.http.post(f"{page}/report", data={"reason": "spam"}).status_code == 403  # no CSRF token
    assert len(root.admin_api("GET", "/gallery/reports", slug=slug).json()["reports"]) == 1
    assert root.admin_api("GET", "/gallery/reports", slug=secret).json()["reports"] == []
    assert audit_actions(engine, slug, "gallery.reported") == ["gallery.reported"] * 2


def test_hiding_resolves_the_reports_and_its_author_sees_why(engine: Engine, members: dict[str, Member]) -> None:
    alice, bob, root = members["alice"], members["bob"], members["root"]
    slug = data.publication(engine, author=alice.name, title="Soon hidden")
    bob.post_form(f"/gallery/p/{slug}", f"/gallery/p/{slug}/report", reason="offensive")
    listed = root.admin_api("GET", "/gallery/publications", state="reported", q=slug).json()["publications"]
    assert [(p["slug"], p["open_reports"]) for p in listed] == [(slug, 1)]

    hidden = root.admin_api("POST", f"/gallery/publications/{slug}/hide", {"reason": f"Offensive {SCRIPT}"})
    assert hidden.status_code == 200 and hidden.json()["publication"]["state"] == "hidden"
    report = root.admin_api("GET", "/gallery/reports", slug=slug, state="all").json()["reports"][0]
    assert report["resolution"] == "hidden" and report["resolved_by"] == root.name
    assert root.admin_api("GET", "/gallery/reports", slug=slug).json()["reports"] == []
    assert bob.get(f"/gallery/p/{slug}").status_code == 404
    own = alice.get(f"/gallery/p/{slug}").text
    assert "An administrator hid this publication: “Offensive &lt;script&gt;" in own and SCRIPT not in own
    assert "Offensive &lt;script&gt;" in alice.get("/gallery/mine").text
    assert root.admin_api("POST", f"/gallery/publications/{slug}/unhide").json()["publication"]["state"] == "published"
    assert bob.get(f"/gallery/p/{slug}").status_code == 200
    assert audit_actions(engine, slug, "gallery.unhidden") == ["gallery.reported", "gallery.hidden", "gallery.unhidden"]


def test_featured_publications_are_pinned_above_the_listing_for_those_who_may_see_them(
        engine: Engine, members: dict[str, Member]) -> None:
    alice, carol, root = members["alice"], members["carol"], members["root"]
    word = f"pinned{uuid.uuid4().hex[:6]}"
    lab_wide = data.publication(engine, author=alice.name, title=f"Lab {word}", tags=[word], age_s=5000)
    quant = data.publication(engine, author=alice.name, title=f"Quant {word}", tags=[word], visibility="group",
                             group="quant", age_s=5000)
    try:
        for slug in (lab_wide, quant):
            answer = root.admin_api("POST", f"/gallery/publications/{slug}/feature")
            assert answer.status_code == 200 and answer.json()["publication"]["featured"] is True
        for who, expected in (("bob", [quant, lab_wide]), ("carol", [lab_wide])):
            page = members[who].get("/gallery").text
            featured, rest = page.split('id="featured-h"')[1].split("Everything else")
            assert card_slugs(featured)[:len(expected)] == expected, who
            assert lab_wide not in card_slugs(rest) and quant not in card_slugs(rest), who  # shown once
            assert "★ Featured" in featured
        assert quant not in carol.get("/gallery").text
        tagged = card_slugs(carol.get("/gallery", tag=word).text)  # a filtered listing shows them in place
        assert tagged == [lab_wide] and 'id="featured-h"' not in carol.get("/gallery", tag=word).text

        with engine.begin() as connection:  # fill the pins up to the most the gallery takes
            taken = connection.execute(text("SELECT count(*) FROM gallery.publications WHERE featured_at IS NOT NULL "
                                            "AND unpublished_at IS NULL")).scalar_one()
        extra = [data.publication(engine, author=alice.name, title=f"Extra {n}") for n in range(12 - taken)]
        for slug in extra:
            assert root.admin_api("POST", f"/gallery/publications/{slug}/feature").status_code == 200
        one_more = data.publication(engine, author=alice.name, title="One too many")
        refused = root.admin_api("POST", f"/gallery/publications/{one_more}/feature")
        assert refused.status_code == 409 and "unfeature one first" in refused.json()["error"]
        for slug in extra:
            root.admin_api("POST", f"/gallery/publications/{slug}/unfeature")
        assert root.admin_api("POST", f"/gallery/publications/{lab_wide}/unfeature").json()["publication"][
            "featured"] is False
        assert lab_wide in card_slugs(carol.get("/gallery", q=word).text)
        assert audit_actions(engine, lab_wide, "gallery.unfeatured") == ["gallery.featured", "gallery.unfeatured"]
    finally:
        with engine.begin() as connection:  # the other tests' listings count on no pins
            connection.execute(text("UPDATE gallery.publications SET featured_at = NULL"))


def test_the_console_lists_publications_and_acts_on_them_through_its_forms(
        engine: Engine, members: dict[str, Member]) -> None:
    alice, bob, root = members["alice"], members["bob"], members["root"]
    word = f"console{uuid.uuid4().hex[:6]}"
    slug = data.publication(engine, author=alice.name, title=f"Console {word} {SCRIPT}")
    bob.post_form(f"/gallery/p/{slug}", f"/gallery/p/{slug}/report", reason="copyright", detail="copied from a paper")
    here = f"/admin/gallery?q={word}"
    page = root.get("/admin/gallery", q=word)
    assert page.status_code == 200 and f"/admin/gallery/{slug}/feature" in page.text and SCRIPT not in page.text
    assert "1 report" in page.text
    assert 'name="csrf_token" value=""' not in page.text  # every form carries the session's token
    assert bob.get("/admin/gallery").status_code == 403 and bob.get("/admin/gallery/reports").status_code == 403
    assert '<a href="/admin"' in root.get("/gallery").text and '<a href="/admin"' not in bob.get("/gallery").text
    assert '<a href="/admin" aria-current="page">Admin</a>' in page.text  # the header marks where you are

    hidden = root.post_form(here, f"/admin/gallery/{slug}/hide", reason="Copyright", back=here)
    assert hidden.status_code == 303 and hidden.headers["location"] == f"{here}&done=hide"
    assert "Hidden: only its author" in root.http.get(hidden.headers["location"]).text
    assert bob.get(f"/gallery/p/{slug}").status_code == 404
    hostile = root.post_form(here, f"/admin/gallery/{slug}/unhide", back="https://evil.example/admin/gallery")
    assert hostile.headers["location"] == "/admin/gallery?done=unhide"  # never off the console
    assert bob.get(f"/gallery/p/{slug}").status_code == 200

    assert "copied from a paper" not in root.get("/admin/gallery/reports").text  # hiding resolved it
    reports = root.get("/admin/gallery/reports", state="all")
    assert 'name="csrf_token" value=""' not in reports.text
    assert "copied from a paper" in reports.text and bob.name in reports.text
    assert f"hidden by {root.name}" in reports.text
    report_id = root.admin_api("GET", "/gallery/reports", slug=slug, state="all").json()["reports"][0]["id"]
    # hiding resolved it: dismissing a resolved report is refused; a fresh one is dismissed
    assert root.post_form("/admin/gallery/reports", f"/admin/gallery/reports/{report_id}/dismiss").status_code == 404
    bob.post_form(f"/gallery/p/{slug}", f"/gallery/p/{slug}/report", reason="broken")
    fresh = root.admin_api("GET", "/gallery/reports", slug=slug).json()["reports"][0]["id"]
    dismissed = root.post_form("/admin/gallery/reports", f"/admin/gallery/reports/{fresh}/dismiss")
    assert dismissed.status_code == 303 and dismissed.headers["location"] == "/admin/gallery/reports?done=dismiss"
    assert root.admin_api("GET", "/gallery/reports", slug=slug).json()["reports"] == []

    assert root.post_form(here, f"/admin/gallery/{slug}/destroy").status_code == 404
    deleted = root.post_form(here, f"/admin/gallery/{slug}/delete", back=here)
    assert deleted.status_code == 303 and bob.get(f"/gallery/p/{slug}").status_code == 404
    assert root.admin_api("GET", f"/gallery/publications/{slug}").status_code == 404
    assert audit_actions(engine, slug, "gallery.deleted") == [
        "gallery.reported", "gallery.hidden", "gallery.unhidden", "gallery.reported", "gallery.report-dismissed",
        "gallery.deleted"]
