"""The gallery's endpoints in the member's server, under ``/appliance/gallery/``: authenticated and
XSRF-checked as every jupyter_server API is, answering in the portal's JSON shape."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from nbformat.v4.rwbase import strip_transient
from tornado import web

from appliance.errors import error_body
from appliance.singleuser.portal import Answer, PortalGallery, PortalUnconfigured
from appliance.singleuser.request import BadRequest, parse_publish
from appliance.storage.api_client import StorageClient
from appliance.storage.contents_manager import RemoteContentsManager
from appliance.storage.routing import RoutingContentsManager

SLUG = r"[A-Za-z0-9][A-Za-z0-9_-]{0,199}"


class GalleryHandler(APIHandler):
    auth_resource = "contents"  # publishing reads the member's files

    def gallery(self) -> PortalGallery:
        return PortalGallery(storage_of(self.contents_manager))

    def answer(self, answer: Answer) -> None:
        self.set_status(answer.status)
        self.finish(json.dumps(answer.body))

    def refuse(self, status: int, message: str) -> None:
        self.answer(Answer(status, error_body(message, status)))

    async def forward(self, call: Callable[[PortalGallery], Awaitable[Answer]]) -> None:
        """Answer with what the portal said, or say why it could not be asked."""
        try:
            gallery = self.gallery()
        except PortalUnconfigured as error:
            self.refuse(500, str(error))
            return
        self.answer(await call(gallery))


class PublishHandler(GalleryHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            request = parse_publish(self.request.body)
        except BadRequest as error:
            self.refuse(400, str(error))
            return
        try:  # the saved notebook, as the contents manager serves it to this member: its refusals stand
            model = await ensure_async(self.contents_manager.get(request.path, content=True, type="notebook"))
        except web.HTTPError as error:
            self.refuse(error.status_code, error.log_message or error.reason or "The notebook cannot be read.")
            return
        notebook = strip_transient(model["content"])  # as the file holds it: no trust marks on the cells
        await self.forward(lambda gallery: gallery.publish(request.payload(notebook)))


class PublicationsHandler(GalleryHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.get_query_argument("path", "").strip("/")
        if not path:
            self.refuse(400, "Say which notebook's publications to list: ?path=a/b.ipynb")
            return
        await self.forward(lambda gallery: gallery.publications(path))


class PublicationHandler(GalleryHandler):
    @web.authenticated
    @authorized
    async def get(self, slug: str) -> None:
        await self.forward(lambda gallery: gallery.publication(slug))


class MeHandler(GalleryHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.forward(lambda gallery: gallery.me())


def storage_of(manager: object) -> StorageClient:
    """The storage client of the server's contents manager: the routing manager's storage, or a
    RemoteContentsManager's when a server runs one alone."""
    if isinstance(manager, RoutingContentsManager):
        manager = manager.remote
    if not isinstance(manager, RemoteContentsManager):
        raise PortalUnconfigured("Publishing needs the appliance's storage (ServerApp.contents_manager_class = "
                                 f"RoutingContentsManager); this server uses {type(manager).__name__}.")
    return manager.storage


def routes(base_url: str) -> list[tuple[str, type[GalleryHandler]]]:
    prefix = url_path_join(base_url, "appliance", "gallery")
    return [
        (f"{prefix}/publish", PublishHandler),
        (f"{prefix}/publications", PublicationsHandler),
        (f"{prefix}/publications/({SLUG})", PublicationHandler),
        (f"{prefix}/me", MeHandler),
    ]
