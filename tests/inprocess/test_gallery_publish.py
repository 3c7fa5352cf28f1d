"""Publishing to the gallery through the real portal (POST /api/gallery/v1/publications with a member's
storage token), what it stores, every refusal writing nothing, the visibility predicate's SQL against
its Python, and `appliance gallery …`."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from starlette.concurrency import run_in_threadpool

from appliance.config import load_config
from appliance.gallery import Gallery
from appliance.gallery.errors import BadRequest, Forbidden, Gone
from appliance.gallery.visibility import ANONYMOUS, Audience, Viewer, may_see, visible_sql
from appliance.identity import Account, AccountTable
from tests.harness import Appliance, mint_storage_token
from tests.inprocess.conftest import SessionCluster, serving
from tests.inprocess.locks import wait_until_waiting_for_a_lock

MAX_SIZE = 300_000  # gallery.max_size_bytes for this module: big enough for the test notebooks, small to exceed
API = "/api/gallery/v1"


@pytest.fixture(scope="module")
def lab(postgres_cluster: SessionCluster) -> Iterator[Appliance]:
    with serving(postgres_cluster, renderer=True, APPLIANCE_GALLERY_MAX_SIZE_BYTES=str(MAX_SIZE)) as handle:
        yield handle


@pytest.fixture(scope="module")
def db(lab: Appliance) -> Iterator[Engine]:
    engine = create_engine(lab.database_url())
    yield engine
    engine.dispose()


@contextlib.asynccontextmanager
async def gallery_service(lab: Appliance, db: Engine) -> AsyncIterator[Gallery]:
    """The Gallery service on the appliance's database, with identity's accounts (as the portal wires it)."""
    accounts = AccountTable(db)

    async def member(name: str) -> Account | None:
        return await run_in_threadpool(accounts.get, name)

    gallery = Gallery(lab.database_url(), load_config(environ=lab.env).gallery, pool_size=1, members=member)
    await gallery.open()
    try:
        yield gallery
    finally:
        await gallery.close()


def libpq_url(lab: Appliance) -> str:
    return make_url(lab.database_url()).set(drivername="postgresql").render_as_string(hide_password=False)


def add_member(lab: Appliance, *groups: str) -> str:
    name = f"m{uuid.uuid4().hex[:10]}"
    added = lab.cli("users", "add", name, *itertools.chain.from_iterable(("--group", g) for g in groups))
    assert added.returncode == 0, added.stderr
    return name


def notebook(markdown: str = "# Momentum\nA study of returns.", code: str = "plot(returns)",
             metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata or {}, "cells": [
        {"id": "c1", "cell_type": "markdown", "metadata": {}, "source": markdown},
        {"id": "c2", "cell_type": "code", "metadata": {}, "execution_count": 3, "source": code, "outputs": [
            {"output_type": "display_data", "metadata": {},
             "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}},
            {"output_type": "stream", "name": "stdout", "text": "secret-output-value\n"}]}]}


def request(lab: Appliance, token: str | None = None, fields: dict[str, Any] | None = None, *,
            content: bytes | None = None, method: str = "POST", path: str = "/publications",
            headers: dict[str, str] | None = None) -> httpx.Response:
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    body = content if content is not None else json.dumps(fields).encode() if fields is not None else None
    return httpx.request(method, f"{lab.portal_url}{API}{path}", content=body, timeout=60,
                         headers={**auth, **(headers or {})})


def publish(lab: Appliance, member: str, **fields: Any) -> httpx.Response:
    body = {"notebook": notebook(), "path": "research/momentum.ipynb", "title": "Momentum", "summary": "",
            "tags": [], "visibility": "lab", "strip_outputs": False, "new_version_of": None, **fields}
    return request(lab, mint_storage_token(lab, member), body)


def counts(db: Engine) -> tuple[int, ...]:
    with db.connect() as connection:
        return tuple(connection.execute(text(f"SELECT count(*) FROM gallery.{table}")).scalar_one()
                     for table in ("publications", "versions", "render_jobs"))


def row(db: Engine, sql: str, **params: Any) -> Any:
    with db.connect() as connection:
        return connection.execute(text(sql), params).one()


def test_the_author_follows_the_render_to_done_through_the_api(lab: Appliance) -> None:
    # first in the module: the other tests' renders would queue ahead of this one
    author = add_member(lab)
    token = mint_storage_token(lab, author)
    slug = publish(lab, author).json()["slug"]
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not seen or seen[-1] not in ("done", "failed")):
        found = request(lab, token, method="GET", path=f"/publications/{slug}").json()
        if not seen or seen[-1] != found["state"]:
            seen.append(found["state"])
            assert found["state"] == "done" or found["position"] is not None or found["state"] == "rendering"
        time.sleep(0.1)  # polling as the Publish dialog does
    assert seen[-1] == "done", f"the render did not finish in 120 s: states {seen}"
    assert set(seen) <= {"queued", "rendering", "done"}


def test_a_publish_stores_the_version_queues_a_render_and_wakes_the_renderer(lab: Appliance, db: Engine) -> None:
    author = add_member(lab)
    with psycopg.connect(libpq_url(lab), autocommit=True) as listener:
        listener.execute("LISTEN gallery_render")
        answer = publish(lab, author, title="  Momentum <script>alert(1)</script>  ",
                         summary="Cross-sectional factor", tags=["Finance", "time-series", "finance"])
        assert answer.status_code == 201, answer.text
        woken = [note.payload for note in listener.notifies(timeout=10, stop_after=1)]
    published = answer.json()
    slug = published["slug"]
    assert published == {"slug": slug, "version": 1, "url": f"{lab.public_portal_url}/gallery/p/{slug}",
                         "state": "queued"}
    assert len(slug) >= 12 and slug == slug.lower() and slug.isalnum()
    stored = row(db, "SELECT p.*, v.notebook, v.size, v.outputs_stripped, v.search_text, v.id AS version_id "
                     "FROM gallery.publications p JOIN gallery.versions v ON v.publication_id = p.id "
                     "WHERE p.slug = :slug", slug=slug)
    assert (stored.author, stored.title, stored.tags) == (author, "Momentum <script>alert(1)</script>",
                                                          ["finance", "time-series"])
    assert stored.visibility == "lab" and stored.source_path == "research/momentum.ipynb"
    kept = json.loads(zlib.decompress(stored.notebook))
    assert kept["cells"][1]["outputs"] and stored.size == len(zlib.decompress(stored.notebook))
    assert not stored.outputs_stripped and "plot(returns)" in stored.search_text
    job = row(db, "SELECT id FROM gallery.render_jobs WHERE version_id = :v", v=stored.version_id)
    assert woken == [str(job.id)]


def test_the_search_document_weighs_title_and_tags_then_summary_markdown_and_code(lab: Appliance, db: Engine) -> None:
    author = add_member(lab)
    slug = publish(lab, author, title="Volatility surfaces", tags=["options"], summary="Smiles and skews",
                   notebook=notebook("Kalman filtering explained", "import statsmodels")).json()["slug"]
    def words(weights: str) -> set[str]:
        with db.connect() as connection:
            found = connection.execute(text(
                "SELECT lexeme FROM gallery.publications, unnest(ts_filter(document, CAST(:w AS \"char\"[]))) "
                "WHERE slug = :slug"), {"w": "{" + weights + "}", "slug": slug}).scalars().all()
        return set(found)

    assert words("a") == {"volatil", "surfac", "option"}
    assert words("b") == {"smile", "skew"}
    assert {"kalman", "filter", "explain"} <= words("c")
    assert "statsmodel" in words("d")

    second = publish(lab, author, new_version_of=slug, title="Volatility surfaces", tags=["options"],
                     summary="Smiles and skews", notebook=notebook("Particle filters now", "import numpy"))
    assert second.status_code == 201 and second.json()["version"] == 2
    assert "kalman" not in words("c") and "particl" in words("c") and "numpi" in words("d")


def test_a_new_version_updates_the_publication_and_keeps_version_one(lab: Appliance, db: Engine) -> None:
    author = add_member(lab, "physics")
    slug = publish(lab, author).json()["slug"]
    second = publish(lab, author, new_version_of=slug, title="Momentum, revised", visibility="group:physics",
                     path="research/momentum-2.ipynb", notebook=notebook("# Revised"))
    assert second.status_code == 201 and second.json()["slug"] == slug and second.json()["version"] == 2
    stored = row(db, "SELECT title, current_version, visibility, visible_group, source_path FROM "
                     "gallery.publications WHERE slug = :slug", slug=slug)
    assert tuple(stored) == ("Momentum, revised", 2, "group", "physics", "research/momentum-2.ipynb")
    with db.connect() as connection:
        versions = connection.execute(text(
            "SELECT v.number, v.notebook, (SELECT count(*) FROM gallery.render_jobs j WHERE j.version_id = v.id) "
            "FROM gallery.versions v JOIN gallery.publications p ON p.id = v.publication_id "
            "WHERE p.slug = :slug ORDER BY v.number"), {"slug": slug}).all()
    assert [(number, jobs) for number, _, jobs in versions] == [(1, 1), (2, 1)]
    assert "Momentum" in zlib.decompress(versions[0][1]).decode()  # version 1 is kept as published


def test_strip_outputs_removes_outputs_and_execution_counts_and_says_so(lab: Appliance, db: Engine) -> None:
    slug = publish(lab, add_member(lab), strip_outputs=True).json()["slug"]
    stored = row(db, "SELECT v.notebook, v.outputs_stripped FROM gallery.versions v JOIN gallery.publications p "
                     "ON p.id = v.publication_id WHERE p.slug = :slug", slug=slug)
    kept = zlib.decompress(stored.notebook).decode()
    assert stored.outputs_stripped and "secret-output-value" not in kept and "iVBORw0KGgo" not in kept
    assert json.loads(kept)["cells"][1]["execution_count"] is None


def test_hostile_text_in_cells_is_stored_without_breaking_the_search_document(lab: Appliance, db: Engine) -> None:
    """A NUL is valid JSON in a cell but not in PostgreSQL's text; a 2 kB word is too long to index."""
    answer = publish(lab, add_member(lab), notebook=notebook("nul\x00here " + "y" * 3000, "print('\x00')"))
    assert answer.status_code == 201, answer.text
    stored = row(db, "SELECT v.search_text FROM gallery.versions v JOIN gallery.publications p "
                     "ON p.id = v.publication_id WHERE p.slug = :slug", slug=answer.json()["slug"])
    assert stored.search_text.startswith("nulhere ")


def test_a_published_clone_records_its_lineage_when_the_original_exists(lab: Appliance, db: Engine) -> None:
    original = publish(lab, add_member(lab)).json()["slug"]
    cloner = add_member(lab)
    derived = publish(lab, cloner, notebook=notebook(metadata={"appliance": {"cloned_from": {
        "publication": original, "version": 1, "title": "Momentum"}}})).json()["slug"]
    orphan = publish(lab, cloner, notebook=notebook(metadata={"appliance": {"cloned_from": {
        "publication": "nosuchpublication", "version": 1}}})).json()["slug"]
    lineage = "SELECT o.slug, d.derived_from_version FROM gallery.publications d " \
              "LEFT JOIN gallery.publications o ON o.id = d.derived_from_id WHERE d.slug = :slug"
    assert tuple(row(db, lineage, slug=derived)) == (original, 1)
    assert tuple(row(db, lineage, slug=orphan)) == (None, None)


def test_every_bad_request_is_refused_with_its_reason_and_writes_nothing(lab: Appliance, db: Engine) -> None:
    member, other = add_member(lab, "physics"), add_member(lab)
    theirs = publish(lab, other).json()["slug"]
    token = mint_storage_token(lab, member)
    before = counts(db)
    valid = {"notebook": notebook(), "path": "a.ipynb", "title": "T", "visibility": "lab"}
    refusals: list[tuple[httpx.Response, int, str]] = [
        (request(lab, token, {**valid, "notebook": notebook("x" * MAX_SIZE)}), 413, "gallery.max_size_bytes = 300000"),
        (request(lab, token, content=b"{" * (MAX_SIZE + 70_000)), 413, "at most 300 kB"),
        (request(lab, token, content=b"{not json"), 400, "not valid JSON"),
        (request(lab, token, {**valid, "notebook": {"nbformat": 4, "nbformat_minor": 5, "cells": []}}), 400,
         "not valid nbformat 4: 'metadata' is a required property"),
        (request(lab, token, {**valid, "notebook": {**notebook(), "nbformat": 3}}), 400, "nbformat 3"),
        (request(lab, token, {**valid, "title": "   "}), 400, "a title is required"),
        (request(lab, token, {**valid, "title": "t" * 201}), 400, "at most 200"),
        (request(lab, token, {**valid, "tags": [f"t{i}" for i in range(11)]}), 400, "at most 10"),
        (request(lab, token, {**valid, "tags": ["<script>"]}), 400, "the tag '<script>' is not allowed"),
        (request(lab, token, {**valid, "tags": ["x" * 41]}), 400, "1 to 40 characters"),
        (request(lab, token, {**valid, "visibility": "everyone"}), 400, "is not one of"),
        (request(lab, token, {**valid, "visibility": "group:chemistry"}), 403, "not in the group 'chemistry'"),
        (request(lab, token, {**valid, "new_version_of": theirs}), 403, "is not yours"),
        (request(lab, token, {**valid, "new_version_of": "nosuchslug"}), 404, "no publication 'nosuchslug'"),
        (request(lab, None, valid), 401, "a storage token is required"),
        (request(lab, mint_storage_token(lab, member, lifetime_s=-300), valid), 401, "not valid"),
        (request(lab, token + "x", valid), 401, "not valid"),
        (request(lab, mint_storage_token(lab, "nosuchmember"), valid), 403, "no account named 'nosuchmember'"),
    ]
    for answer, status, message in refusals:
        shape = (answer.status_code, answer.json()["status"], answer.json()["ok"])
        assert shape == (status, status, False), answer.text
        assert message in answer.json()["error"], (message, answer.text)
    assert counts(db) == before


def test_a_disabled_members_token_is_refused(lab: Appliance, db: Engine) -> None:
    member = add_member(lab)
    token = mint_storage_token(lab, member)
    assert lab.cli("users", "disable", member).returncode == 0
    before = counts(db)
    answer = request(lab, token, {"notebook": notebook(), "path": "a.ipynb", "title": "T"})
    assert answer.status_code == 401 and "disabled" in answer.json()["error"]
    assert request(lab, mint_storage_token(lab, member), method="GET", path="/publications").status_code == 401
    assert counts(db) == before


def test_a_member_reads_their_own_publications_and_groups_and_nobody_elses(lab: Appliance) -> None:
    member, other = add_member(lab, "physics", "cs"), add_member(lab)
    token = mint_storage_token(lab, member)
    slug = publish(lab, member, path="x/y.ipynb", visibility="group:cs").json()["slug"]
    publish(lab, member, path="x/z.ipynb")
    theirs = publish(lab, other, path="x/y.ipynb").json()["slug"]

    assert request(lab, token, method="GET", path="/me").json() == {"username": member, "groups": ["cs", "physics"]}
    listed = request(lab, token, method="GET", path="/publications?path=x/y.ipynb")
    assert listed.status_code == 200, listed.text
    mine = listed.json()["publications"]
    assert [(p["slug"], p["version"], p["visibility"]) for p in mine] == [(slug, 1, "group:cs")]
    assert mine[0]["state"] in ("queued", "rendering", "done") and mine[0]["url"].endswith(f"/gallery/p/{slug}")
    assert len(request(lab, token, method="GET", path="/publications").json()["publications"]) == 2
    own = request(lab, token, method="GET", path=f"/publications/{slug}")
    assert own.status_code == 200 and own.json()["slug"] == slug
    refused = request(lab, token, method="GET", path=f"/publications/{theirs}")
    assert refused.status_code == 404 and refused.json()["error"] == f"you have no publication {theirs!r}."


async def test_an_authors_edit_rebuilds_title_tags_and_summary_for_search_and_keeps_the_notebooks(
        lab: Appliance, db: Engine) -> None:
    """The edit the "My publications" form makes, through the same service the portal wires."""
    author, other = add_member(lab, "physics"), add_member(lab)
    slug = publish(lab, author, title="Kalman", tags=["filters"], summary="State space",
                   notebook=notebook("Riccati equations", "import scipy")).json()["slug"]
    async with gallery_service(lab, db) as gallery:
        await gallery.publisher.edit(author, slug, title="Particle smoothing", summary="Monte Carlo",
                                     tags=["Bayes"], visibility="group:physics")
        with pytest.raises(Forbidden, match="not yours"):
            await gallery.publisher.edit(other, slug, title="Mine now", summary="", tags=[], visibility="lab")
        with pytest.raises(Forbidden, match="not in the group"):
            await gallery.publisher.edit(author, slug, title="T", summary="", tags=[], visibility="group:chem")
        with pytest.raises(BadRequest, match="a title is required"):
            await gallery.publisher.edit(author, slug, title=" ", summary="", tags=[], visibility="lab")
    with db.connect() as connection:
        def words(weight: str) -> set[str]:
            return set(connection.execute(text(
                "SELECT lexeme FROM gallery.publications, unnest(ts_filter(document, CAST(:w AS \"char\"[]))) "
                "WHERE slug = :slug"), {"w": "{" + weight + "}", "slug": slug}).scalars().all())

        assert words("a") == {"particl", "smooth", "bay"} and words("b") == {"mont", "carlo"}
        assert "riccati" in words("c") and "scipi" in words("d")  # the notebook's words are kept
        stored = connection.execute(text("SELECT title, tags, visibility, visible_group FROM gallery.publications "
                                         "WHERE slug = :slug"), {"slug": slug}).one()
    assert tuple(stored) == ("Particle smoothing", ["bayes"], "group", "physics")


async def test_an_unpublished_publication_is_gone_for_its_author_and_cannot_get_a_version(
        lab: Appliance, db: Engine) -> None:
    author = add_member(lab)
    token = mint_storage_token(lab, author)
    slug = publish(lab, author).json()["slug"]
    listed = json.loads(lab.cli("gallery", "list", "--json").stdout)
    assert slug in {item["slug"] for item in listed}
    async with gallery_service(lab, db) as gallery:  # as the author's Unpublish button does
        with pytest.raises(Forbidden, match="not yours to unpublish"):
            await gallery.moderation.unpublish(add_member(lab), slug)
        await gallery.moderation.unpublish(author, slug)
        with pytest.raises(Gone, match="already unpublished"):
            await gallery.moderation.unpublish(author, slug)
    gone = request(lab, token, method="GET", path=f"/publications/{slug}")
    assert gone.status_code == 410 and "you unpublished" in gone.json()["error"]
    assert request(lab, token, method="GET", path="/publications").json()["publications"] == []
    again = publish(lab, author, new_version_of=slug)
    assert again.status_code == 410 and "was unpublished; publish a new one" in again.json()["error"]
    assert slug not in lab.cli("gallery", "list").stdout and slug in lab.cli("gallery", "list", "--all").stdout


def test_the_visibility_predicates_sql_agrees_with_its_python_on_every_combination(lab: Appliance) -> None:
    """Every (author, visibility, hidden, unpublished) against every kind of viewer, listed or not."""
    combos = list(itertools.product(("alice", "bob"), (("lab", None), ("group", "physics"), ("group", "chem"),
                                                       ("unlisted", None)), (False, True), (False, True)))
    viewers = [Viewer("alice", frozenset({"physics"})), Viewer("bob", frozenset({"chem", "x"})), Viewer("carol"),
               Viewer("root", is_admin=True), ANONYMOUS]
    # one transaction, rolled back: other tests never see these rows
    with psycopg.connect(libpq_url(lab)) as connection:
        slugs = {}
        for author, (visibility, group), hidden, unpublished in combos:
            slug = f"vis{uuid.uuid4().hex[:12]}"
            slugs[slug] = Audience(author, visibility, group, hidden, unpublished)
            connection.execute(
                "INSERT INTO gallery.publications (slug, author, source_path, title, visibility, visible_group, "
                "hidden_at, unpublished_at) VALUES (%s, %s, 'a.ipynb', 't', %s, %s, "
                "CASE WHEN %s THEN now() END, CASE WHEN %s THEN now() END)",
                (slug, author, visibility, group, hidden, unpublished))
        for viewer, listed in itertools.product(viewers, (False, True)):
            sql, params = visible_sql(viewer, listed=listed, alias="q")
            found = {slug for (slug,) in connection.execute(
                f"SELECT q.slug FROM gallery.publications q WHERE q.slug LIKE 'vis%%' AND {sql}", params)}
            expected = {slug for slug, audience in slugs.items() if may_see(viewer, audience, listed=listed)}
            assert found & set(slugs) == expected, (viewer, listed)
        connection.rollback()


def test_admins_moderate_with_the_gallery_commands(lab: Appliance, db: Engine) -> None:
    cli = lab.cli
    author = add_member(lab)
    slug = publish(lab, author, title="To be moderated").json()["slug"]
    listed = {item["slug"]: item for item in json.loads(cli("gallery", "list", "--json").stdout)}
    assert listed[slug]["author"] == author and listed[slug]["state"] == "published"

    assert cli("gallery", "hide", slug, "--reason", "spam").returncode == 0
    shown = json.loads(cli("gallery", "show", slug, "--json").stdout)
    assert shown["state"] == "hidden" and shown["hidden_reason"] == "spam" and shown["versions"][0]["number"] == 1
    assert "hidden (spam)" in cli("gallery", "show", slug).stdout
    assert cli("gallery", "unhide", slug).returncode == 0
    assert json.loads(cli("gallery", "show", slug, "--json").stdout)["state"] == "published"

    assert cli("gallery", "feature", slug).returncode == 0
    with db.begin() as connection:  # a member's report, as the publication's page files it
        report = connection.execute(text(
            "INSERT INTO gallery.reports (publication_id, reporter, reason, detail) SELECT id, 'someone', 'broken', "
            "'the plot is empty' FROM gallery.publications WHERE slug = :s RETURNING id"), {"s": slug}).scalar_one()
    reports = json.loads(cli("gallery", "reports", "--json").stdout)
    assert [(r["id"], r["slug"], r["detail"]) for r in reports if r["slug"] == slug] == [
        (report, slug, "the plot is empty")]
    dismissed = cli("gallery", "dismiss", str(report))
    assert dismissed.returncode == 0 and f"dismissed report {report} on {slug}" in dismissed.stdout
    featured = cli("gallery", "list", "--state", "featured")
    assert slug in featured.stdout and "★ To be moderated" in featured.stdout

    rerendered = cli("gallery", "rerender", slug)
    assert rerendered.returncode == 0 and f"queued version 1 of {slug}" in rerendered.stdout
    missing = cli("gallery", "rerender", slug, "--version", "7")
    assert missing.returncode == 1 and "with a version 7" in missing.stderr

    assert cli("gallery", "delete", slug, "--yes").returncode == 0
    assert slug not in cli("gallery", "list").stdout
    gone = cli("gallery", "show", slug)
    assert gone.returncode == 1 and f"there is no publication {slug!r}" in gone.stderr
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM gallery.publications WHERE slug = :s"),
                                  {"s": slug}).scalar_one() == 0


def test_deleting_a_publication_while_it_renders_waits_for_the_render_and_does_not_deadlock(
        lab: Appliance, db: Engine) -> None:
    slug = publish(lab, add_member(lab), title="Deleted mid-render").json()["slug"]
    deleted: list[Any] = []
    with db.connect() as render:  # what the renderer's transaction holds: the job's row, then its version's
        job = render.execute(text(
            "SELECT j.id, j.version_id FROM gallery.render_jobs j JOIN gallery.versions v ON v.id = j.version_id "
            "JOIN gallery.publications p ON p.id = v.publication_id WHERE p.slug = :s FOR UPDATE OF j"),
            {"s": slug}).one()
        deleting = threading.Thread(target=lambda: deleted.append(lab.cli("gallery", "delete", slug, "--yes")))
        deleting.start()
        wait_until_waiting_for_a_lock(render, "the delete never waited for the render")
        render.execute(text("UPDATE gallery.versions SET rendered_at = now() WHERE id = :v"), {"v": job.version_id})
        render.commit()  # the render is stored, as the renderer would
    deleting.join(30)
    assert deleted[0].returncode == 0, deleted[0].stderr
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM gallery.publications WHERE slug = :s"),
                                  {"s": slug}).scalar_one() == 0
