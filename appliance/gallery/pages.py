"""The gallery's pages on the portal origin: the cards, a publication and its versions, "My publications",
the thread's forms, Download, Clone and the card thumbnails.

Every page is for signed-in members (anyone else is sent to sign in). A publication the viewer may not
see answers 404 by every URL, whatever the reason; one its author unpublished answers 410 to those who
could see it. Every form carries the session's CSRF token and is checked against the Origin, as the
portal's own forms are. The rendered notebook is never shown here: the page frames it from the render
origin in a sandbox without ``allow-same-origin``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlencode

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from appliance.audit import Actor
from appliance.gallery.catalog import Card, CardPage, Catalog, Publication, Version
from appliance.gallery.clone import CloneFailed, Cloner, NotebookStore, candidate_names
from appliance.gallery.diff import DiffCache, NotebookDiff
from appliance.gallery.errors import GalleryError, NotFound
from appliance.gallery.moderation import MAX_REPORT_DETAIL
from appliance.gallery.tables import REPORT_REASONS
from appliance.gallery.threads import Comment, CommentRefused, Threads
from appliance.gallery.visibility import Viewer
from appliance.identity.csrf import same_origin
from appliance.storage import StorageError
from appliance.web import render

if TYPE_CHECKING:
    from appliance.identity import Identity
    from appliance.identity.sessions import Session

DIFFED_VERSIONS = 10  # the newest versions whose changes the versions list tells
THUMBNAIL_CACHE = "private, max-age=3600"  # a version's thumbnails never change


class Authoring(Protocol):
    """What the author's forms need of publishing (publish.Publisher and moderation have it)."""

    async def edit(self, username: str, slug: str, *, title: str, summary: str, tags: list[str],
                   visibility: str) -> None: ...


class MemberModeration(Protocol):
    """What members do to publications through the pages (moderation.Moderation has it)."""

    async def unpublish(self, username: str, slug: str) -> None: ...

    async def report(self, publication_id: int, reason: str, detail: str = "", *, by: Actor) -> int: ...


# (slug, version): the render's URL on the render origin, signed for a viewer the page let see it
# (rendered.RenderLinks.url)
RenderLink = Callable[[str, int], str]


@dataclass(frozen=True)
class Shown:
    """A publication page: the publication and the version it shows (the current one, or a permalink's)."""

    publication: Publication
    version: Version


def download_disposition(source_path: str, number: int) -> str:
    """``Returns study v2.ipynb``: the notebook's own name (RFC 6266, with an ASCII fallback)."""
    stem = candidate_names(source_path)[0].removesuffix(".ipynb")
    name = f"{stem} v{number}.ipynb"
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def parse_tags(field: str) -> list[str]:
    return [tag for tag in (part.strip() for part in field.replace("\n", ",").split(",")) if tag]


class GalleryPages:
    def __init__(self, catalog: Catalog, threads: Threads, cloner: Cloner, identity: Identity,
                 render_link: RenderLink, authoring: Authoring, moderation: MemberModeration):
        self.catalog = catalog
        self.threads = threads
        self.cloner = cloner
        self.identity = identity
        self.render_link = render_link
        self.authoring = authoring
        self.moderation = moderation
        self.diffs = DiffCache()

    @classmethod
    def make(cls, engine: Any, store: NotebookStore, identity: Identity, render_link: RenderLink,
             authoring: Authoring, moderation: MemberModeration) -> GalleryPages:
        return cls(Catalog(engine), Threads(engine), Cloner(engine, store), identity, render_link, authoring,
                   moderation)

    def routes(self) -> list[Route]:
        return [
            Route("/gallery", self.index, name="gallery"),
            Route("/gallery/mine", self.mine, name="gallery_mine"),
            Route("/gallery/mine/{slug}", self.edit, methods=["POST"], name="gallery_edit"),
            Route("/gallery/mine/{slug}/unpublish", self.unpublish_page, methods=["GET", "POST"],
                  name="gallery_unpublish"),
            Route("/gallery/p/{slug}", self.publication, name="gallery_publication"),
            Route("/gallery/p/{slug}/v/{number:int}", self.publication, name="gallery_version"),
            Route("/gallery/p/{slug}/v/{number:int}/notebook.ipynb", self.download, name="gallery_download"),
            Route("/gallery/p/{slug}/clone", self.clone, methods=["POST"], name="gallery_clone"),
            Route("/gallery/p/{slug}/report", self.report, methods=["POST"], name="gallery_report"),
            Route("/gallery/p/{slug}/comments", self.comment, methods=["POST"], name="gallery_comment"),
            Route("/gallery/p/{slug}/comments/{comment:int}/{action}", self.change_comment, methods=["POST"],
                  name="gallery_comment_change"),
            Route("/gallery/thumbnails/{version:int}/{position:int}.png", self.thumbnail, name="gallery_thumbnail"),
        ]

    # ----- who is asking ---------------------------------------------------------------------------

    async def _session(self, request: Request) -> Session | None:
        return await self.identity.session_of(request)

    @staticmethod
    def _sign_in(request: Request) -> Response:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': here})}", status_code=303)

    async def _form(self, request: Request, session: Session) -> dict[str, str] | None:
        """The posted form's fields, or None when its CSRF token or Origin is wrong."""
        form = await request.form()
        token = str(form.get("csrf_token", ""))
        if not same_origin(request) or not self.identity.csrf.check(b"session:" + session.digest, token):
            return None
        return {key: str(value) for key, value in form.items() if isinstance(value, str)}

    @staticmethod
    def _refused(request: Request, session: Session) -> Response:
        return render(request, "error.html", status_code=403, status=403, session=session,
                      message="The form expired or did not come from this site. Reload the page and try again.")

    @staticmethod
    def _error(request: Request, session: Session | None, error: GalleryError) -> Response:
        title = "Unpublished" if error.status == 410 else None
        return render(request, "error.html", status_code=error.status, status=error.status, session=session,
                      message=error.message, title=title)

    # ----- the gallery --------------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        session = await self._session(request)
        if session is None:
            return self._sign_in(request)
        viewer, params = Viewer.of(session.account), request.query_params
        try:
            page_number = int(params.get("page", "1"))
        except ValueError:
            page_number = 1

        def read() -> tuple[CardPage, list[tuple[str, int]], list[Card]]:  # one trip to the thread pool
            page = self.catalog.cards(viewer, params.get("q", ""), params.get("tag", ""), params.get("sort", "newest"),
                                      page_number)
            pinned = page.page == 1 and not page.query and not page.tag  # the listing leaves them out
            return page, self.catalog.tags(viewer), self.catalog.featured(viewer) if pinned else []

        page, tags, featured = await run_in_threadpool(read)

        def link(**changes: Any) -> str:
            query = {"q": page.query, "tag": page.tag, "sort": page.sort, "page": page.page, **changes}
            query = {key: value for key, value in query.items() if value and (key, value) != ("sort", "newest")
                     and (key, value) != ("page", 1)}
            return "/gallery" + (f"?{urlencode(query)}" if query else "")

        return render(request, "gallery/index.html", session=session, page=page, tags=tags, featured=featured,
                      link=link)

    # ----- a publication ------------------------------------------------------------------------------

    async def _shown(self, request: Request, session: Session) -> Shown:
        publication = await run_in_threadpool(self.catalog.publication, Viewer.of(session.account),
                                              request.path_params["slug"])
        number = request.path_params.get("number", publication.current_version)
        version = publication.version(number)
        if version is None:
            raise NotFound(f"“{publication.title}” has no version {number}; it has versions 1 to "
                           f"{publication.current_version}.")
        return Shown(publication, version)

    async def _page_of(self, request: Request) -> tuple[Session, Shown] | Response:
        """The signed-in viewer and the publication (and version) the URL names, or the answer instead:
        sign in, 404, 410."""
        session = await self._session(request)
        if session is None:
            return self._sign_in(request)
        try:
            return session, await self._shown(request, session)
        except GalleryError as error:
            return self._error(request, session, error)

    async def publication(self, request: Request) -> Response:
        found = await self._page_of(request)
        if isinstance(found, Response):
            return found
        session, shown = found
        publication, version = shown.publication, shown.version

        def read() -> tuple[dict[int, NotebookDiff], list[Comment]]:  # one trip to the thread pool
            return self._changes(publication), self.threads.comments(publication.id)

        changes, comments = await run_in_threadpool(read)
        editing = request.query_params.get("edit", "")
        render_url = self.render_link(publication.slug, version.number)
        response = render(request, "gallery/publication.html", session=session, p=publication, shown=version,
                          changes=changes, comments=comments, render_url=render_url, editing=editing,
                          is_author=publication.author == session.account.username,
                          comment_error=request.query_params.get("comment_error", ""),
                          reported=request.query_params.get("reported") == "1", report_reasons=REPORT_REASONS,
                          report_max=MAX_REPORT_DETAIL, report_error=request.query_params.get("report_error", ""))
        # the view is counted once the page is sent: a write (and its commit) need not delay it
        response.background = BackgroundTask(self.catalog.count_view, publication.id, session.account.username)
        return response

    def _changes(self, publication: Publication) -> dict[int, NotebookDiff]:
        """What changed in each of the newest versions, against the one before it (cached per pair)."""
        found: dict[int, NotebookDiff] = {}
        for newer, older in zip(publication.versions[:DIFFED_VERSIONS], publication.versions[1:], strict=False):
            found[newer.number] = self.diffs.get((older.id, newer.id), self.catalog.notebook)
        return found

    async def download(self, request: Request) -> Response:
        found = await self._page_of(request)
        if isinstance(found, Response):
            return found
        shown = found[1]
        notebook = await run_in_threadpool(self.catalog.notebook, shown.version.id)
        return Response(notebook, media_type="application/x-ipynb+json", headers={
            "Content-Disposition": download_disposition(shown.publication.source_path, shown.version.number),
            "Cache-Control": "private, no-cache"})

    async def thumbnail(self, request: Request) -> Response:
        session = await self._session(request)
        if session is None:
            return Response(status_code=404)
        try:
            png = await run_in_threadpool(self.catalog.thumbnail, Viewer.of(session.account),
                                          request.path_params["version"], request.path_params["position"])
        except NotFound:
            return Response(status_code=404)
        return Response(png, media_type="image/png", headers={
            "Cache-Control": THUMBNAIL_CACHE, "Content-Security-Policy": "default-src 'none'; sandbox"})

    async def _posted(self, request: Request, *, versioned: bool = False) -> tuple[Session, dict[str, str], Shown] \
            | Response:
        """A form posted about the publication the URL names: the signed-in poster, the form (its CSRF token
        and Origin checked) and the publication as they may see it (``versioned``: the version the form's
        ``version`` field names), or the answer instead: sign in, 403, 404, 410."""
        session = await self._session(request)
        if session is None:
            return self._sign_in(request)
        form = await self._form(request, session)
        if form is None:
            return self._refused(request, session)
        if versioned and form.get("version", "").isdigit():
            request.path_params["number"] = int(form["version"])
        try:
            return session, form, await self._shown(request, session)
        except GalleryError as error:
            return self._error(request, session, error)

    async def clone(self, request: Request) -> Response:
        found = await self._posted(request, versioned=True)
        if isinstance(found, Response):
            return found
        session, _, shown = found
        publication, version, username = shown.publication, shown.version, session.account.username
        notebook = await run_in_threadpool(self.catalog.notebook, version.id)
        try:
            path = await self.cloner.clone(username, publication.slug, publication.title, version.number,
                                           publication.source_path, notebook)
        except (CloneFailed, StorageError) as error:
            return render(request, "error.html", status_code=getattr(error, "status", 409), session=session,
                          status=getattr(error, "status", 409), title="Not cloned",
                          message=f"“{publication.title}” was not cloned: {error}")
        await run_in_threadpool(self.cloner.record, publication.id, version.number, username, path)
        return RedirectResponse(f"/research?{urlencode({'open': path})}", status_code=303)

    async def report(self, request: Request) -> Response:
        """A member reports a publication they can see to the administrators."""
        found = await self._posted(request)
        if isinstance(found, Response):
            return found
        session, form, shown = found
        back = f"/gallery/p/{quote(shown.publication.slug)}"
        try:
            await self.moderation.report(shown.publication.id, form.get("reason", ""), form.get("detail", ""),
                                         by=Actor.of_request(session.account.username, request))
        except GalleryError as error:
            return RedirectResponse(f"{back}?{urlencode({'report_error': error.message})}", status_code=303)
        return RedirectResponse(f"{back}?reported=1", status_code=303)

    # ----- the thread ---------------------------------------------------------------------------------

    async def comment(self, request: Request) -> Response:
        return await self._thread_change(request, "add")

    async def change_comment(self, request: Request) -> Response:
        return await self._thread_change(request, request.path_params["action"])

    async def _thread_change(self, request: Request, action: str) -> Response:
        found = await self._posted(request)
        if isinstance(found, Response):
            return found
        session, form, shown = found
        if action not in ("add", "edit", "delete"):
            return render(request, "error.html", status_code=404, status=404, session=session,
                          message=f"There is no page at {request.url.path}.")
        publication_id, account = shown.publication.id, session.account
        back = f"/gallery/p/{quote(shown.publication.slug)}"
        try:
            if action == "add":
                comment_id = await run_in_threadpool(self.threads.add, publication_id, account.username,
                                                     form.get("body", ""))
            else:
                comment_id = request.path_params["comment"]
                if action == "edit":
                    await run_in_threadpool(self.threads.edit, publication_id, comment_id, account.username,
                                            form.get("body", ""))
                else:
                    await run_in_threadpool(self.threads.delete, publication_id, comment_id, account.username,
                                            account.is_admin)
        except CommentRefused as refused:
            return RedirectResponse(f"{back}?{urlencode({'comment_error': str(refused)})}#discussion",
                                    status_code=303)
        return RedirectResponse(f"{back}#comment-{comment_id}", status_code=303)

    # ----- my publications ----------------------------------------------------------------------------

    async def mine(self, request: Request, error: str = "", failed_slug: str = "", status_code: int = 200,
                   session: Session | None = None) -> Response:
        session = session or await self._session(request)
        if session is None:
            return self._sign_in(request)
        publications = await run_in_threadpool(self.catalog.mine, session.account.username)
        return render(request, "gallery/mine.html", status_code=status_code, session=session,
                      publications=publications, groups=sorted(session.account.groups), error=error,
                      failed_slug=failed_slug, saved=request.query_params.get("saved", ""),
                      unpublished=request.query_params.get("unpublished", ""))

    async def edit(self, request: Request) -> Response:
        session = await self._session(request)
        if session is None:
            return self._sign_in(request)
        form = await self._form(request, session)
        if form is None:
            return self._refused(request, session)
        slug = request.path_params["slug"]
        try:
            await self.authoring.edit(session.account.username, slug, title=form.get("title", ""),
                                      summary=form.get("summary", ""), tags=parse_tags(form.get("tags", "")),
                                      visibility=form.get("visibility", ""))
        except GalleryError as error:
            return await self.mine(request, error=error.message, failed_slug=slug, status_code=error.status,
                                   session=session)
        return RedirectResponse(f"/gallery/mine?{urlencode({'saved': slug})}#p-{slug}", status_code=303)

    async def unpublish_page(self, request: Request) -> Response:
        session = await self._session(request)
        if session is None:
            return self._sign_in(request)
        slug = request.path_params["slug"]
        mine = {p.slug: p for p in await run_in_threadpool(self.catalog.mine, session.account.username)}
        if slug not in mine:
            return self._error(request, session, NotFound("You have no publication at this address to unpublish."))
        if request.method == "GET":
            return render(request, "gallery/unpublish.html", session=session, p=mine[slug])
        form = await self._form(request, session)
        if form is None:
            return self._refused(request, session)
        try:
            await self.moderation.unpublish(session.account.username, slug)
        except GalleryError as error:
            return self._error(request, session, error)
        return RedirectResponse(f"/gallery/mine?{urlencode({'unpublished': mine[slug].title})}", status_code=303)
