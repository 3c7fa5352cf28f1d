"""The portal process (the supervisor starts it as `python -m appliance.application.portal`): the one place
that wires the components into the portal's Starlette app."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from appliance import __version__, admin, audit, discovery, doctor, envs, gallery, identity, metrics, nodes, storage
from appliance.application.nodes import NodeAdmission, NodeHubs
from appliance.config import Config, load_config
from appliance.db import make_engine
from appliance.hub import addresses
from appliance.hub.routes import HubRoutes
from appliance.portal.errors import DATABASE_UNAVAILABLE, database_unavailable, http_exception, server_error
from appliance.portal.forwarded import TrustedProxyHeaders
from appliance.portal.guards import AllowedHosts, HeaderLimits, portal_hosts
from appliance.portal.headers import SecurityHeaders
from appliance.portal.member_server import MemberServer
from appliance.portal.pages import PortalPages
from appliance.portal.serve import serve
from appliance.postgres import database_url
from appliance.supervisor import SupervisorClient
from appliance.supervisor.metrics import component_metrics
from appliance.web import portal_templates
from appliance.webui import STATIC, TEMPLATES


def ensure_hub_clients(config: Config, identity_service: identity.Identity) -> None:
    """Every configured hub is a first-party OAuth client of the portal, with a secret the appliance keeps."""
    for hub_id in config.addresses.hub_ids:
        identity_service.clients.ensure(
            addresses.oauth_client_id(hub_id), config.home.secret(addresses.oauth_secret_name(hub_id)),
            [config.addresses.oauth_callback(hub_id)], name=f"Hub {hub_id}", first_party=True)


def installation(config: Config) -> admin.Installation:
    return admin.Installation(home=config.home, addresses=config.addresses, proxy=config.proxy,
                              external_postgres=bool(config.postgres.url), config_file=config.file,
                              knobs=config.shown_knobs(), secret_values=config.secret_values())


def console_routes(identity_service: identity.Identity, audit_service: audit.Audit, portal_origin: str,
                   facts: admin.PersonFacts, hubs: admin.HubsConsole, system: admin.SystemConsole,
                   moderation: gallery.Moderation, environments: envs.Environments) -> list[BaseRoute]:
    """The admin console: its pages and the /api/admin/v1 routes of each owner, behind one guard."""
    async def admin_token_of(value: str) -> identity.AdminToken | None:
        return await run_in_threadpool(identity_service.admin_tokens.get, value)

    guard = admin.AdminGuard(identity_service.session_of, admin_token_of, identity_service.csrf, audit_service.record)
    people = admin.People(identity_service.accounts, identity_service.invitations, identity_service.access,
                          portal_origin, audit_service.record)
    software = admin.SoftwareAPI(guard, admin.SoftwareConsole(environments, audit_service.record))
    api = admin.AdminAPI(guard, [admin.PeopleAPI(people, facts).routes(),
                                 admin.HubsAPI(hubs, system).routes(), admin.GalleryAPI(moderation).routes(),
                                 software.routes(), admin.AuditAPI(audit_service).routes()], __version__)
    return [*api.routes(), *admin.ConsolePages(guard).routes(),
            *admin.PeoplePages(guard, people, facts).routes(), *admin.HubsPages(guard, hubs, system).routes(),
            *admin.GalleryPages(guard, moderation).routes(), *software.page_routes(),
            *admin.AuditPages(guard, audit_service).routes()]


def make_app(config: Config) -> Starlette:
    url = database_url(config.home, config.postgres)
    engine = make_engine(url)
    portal_origin = config.addresses.portal_origin
    if portal_origin.startswith("http:"):  # plain HTTP is this configuration's choice (the trial names or a bare
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # address): authlib allows OAuth over it on localhost only
    audit_service = audit.Audit(engine, config.audit)  # everyone records through audit_service.record
    identity_service = identity.Identity(engine, config.identity, config.home, issuer=portal_origin,
                                         record=audit_service.record)

    async def member_account(username: str) -> identity.Account | None:
        return await run_in_threadpool(identity_service.accounts.get, username)

    storage_service = storage.Storage(url, config.storage, config.home, standing=identity_service.access.standing_of,
                                      record=audit_service.record)
    gallery_service = gallery.Gallery(url, config.gallery, members=member_account,
                                      authenticate=storage_service.api.authenticate, portal_origin=portal_origin,
                                      record=audit_service.record)
    identity_pages = identity.IdentityPages(identity_service)
    rendered = gallery.make_rendered(engine, config.home.secret(gallery.RENDER_LINK_SECRET),
                                     config.addresses.render_origin, portal_origin)
    gallery_pages = gallery.GalleryPages.make(engine, storage_service.store, identity_service, rendered.links.url,
                                              gallery_service.publisher, gallery_service.moderation)
    discovery_service = discovery.Discovery(url, config.discovery, config.home)
    hub_routes = HubRoutes(config.addresses, config.home, discovery_service.registry)
    discovery_service.after_reap.append(hub_routes.tend)
    node_directory = nodes.NodeDirectory(engine)
    join_api = nodes.JoinAPI(NodeAdmission(config, node_directory, identity_service).admit)

    async def session_user(request: Request) -> str | None:
        session = await identity_service.session_of(request)
        return session.account.username if session is not None else None

    async def hub_configured(hub_id: str) -> bool:
        return hub_id in config.addresses.hub_ids or await run_in_threadpool(node_directory.serves, hub_id)

    discovery_api = discovery.DiscoveryAPI(discovery_service.registry, session_user, identity_service.access,
                                           hub_configured)
    portal_pages = PortalPages(config.addresses, engine, identity_service, discovery_service.registry.hubs,
                               discovery_api.placement_of, config.hubs.server_profiles())
    member_server = MemberServer(config.addresses, config.home, identity_service.session_of,
                                 discovery_service.registry.assignment, identity_service.csrf,
                                 config.hubs.server_profiles())
    node_hubs = NodeHubs(config, node_directory, member_server.hubs, hub_routes, discovery_service.registry,
                         member_server.http)
    discovery_service.after_reap.append(node_hubs.refresh)

    async def usage_of(username: str) -> admin.Usage:
        return admin.Usage(*await storage_service.store.usage(username))

    async def publications_of(username: str) -> list[admin.Publication]:
        found = await gallery_service.moderation.listing(author=username, include_unpublished=True)
        return [admin.Publication(item.slug, item.title, item.state) for item in found]

    async def hub_metrics(hub_id: str) -> str | None:
        hub = member_server.hubs.get(hub_id)  # this machine's hubs and the joined nodes'
        return await hub.metrics() if hub is not None else None

    hub_servers = admin.HubServers(member_server.hubs, discovery_service.registry.assignment,
                                   discovery_service.registry.move)
    person_facts = admin.PersonFacts(hub_servers, usage_of, publications_of, audit_service.record)
    supervisor_client = SupervisorClient(config.home.control_socket)
    hubs_console = admin.HubsConsole(discovery_service.registry, discovery_service.samples, supervisor_client,
                                     audit_service.record)
    system_console = admin.SystemConsole(installation(config), engine, supervisor_client, discovery_service.registry)

    templates = portal_templates(str(TEMPLATES))
    templates.env.globals.update(version=__version__, csrf_for=identity_pages.csrf_token)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await storage_service.open()
        await discovery_service.open()
        await gallery_service.open()
        await audit_service.open()
        await node_hubs.refresh()  # the nodes' hubs are configured too
        await hub_routes.retire_unconfigured()
        await run_in_threadpool(ensure_hub_clients, config, identity_service)
        sizes = asyncio.create_task(doctor.keep_recording(engine))  # `appliance doctor` tells the databases' growth
        try:
            yield
        finally:
            sizes.cancel()
            await asyncio.wait([sizes])  # its query done before the engine is disposed of
            await storage_service.close()
            await discovery_service.close()
            await gallery_service.close()
            await audit_service.close()  # its last batch is written through the engine: dispose of it after
            await hub_routes.aclose()
            await node_hubs.aclose()
            await member_server.aclose()
            engine.dispose()

    app = Starlette(
        routes=[
            *portal_pages.routes(),
            *identity.routes(identity_service, identity_pages),
            *storage_service.api.routes(),
            *discovery_api.routes(),
            *join_api.routes(),
            *metrics.MetricsAPI(config.home.secret(metrics.TOKEN_SECRET), sources=[
                component_metrics(supervisor_client), gallery.render_queue_metrics(engine)],
                hub_metrics=hub_metrics).routes(),
            *member_server.routes(),
            *gallery_service.routes(),
            *gallery_pages.routes(),
            *rendered.portal_routes(),
            *console_routes(identity_service, audit_service, portal_origin, person_facts, hubs_console,
                            system_console, gallery_service.moderation, envs.Environments(config.home.envs_dir)),
            Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        ],
        middleware=[
            Middleware(HeaderLimits),
            Middleware(TrustedProxyHeaders),
            # the render host's requests go to its own small app: only the render paths answer there
            Middleware(gallery.RenderHost, hosts=rendered.hosts, render_app=rendered.host_app()),
            Middleware(SecurityHeaders, hub_origin=config.addresses.hub_origin,
                       member_origins=config.addresses.member_origins),
            Middleware(AllowedHosts, hosts=portal_hosts(portal_origin, config.portal, config.nodes.address),
                       public_url=portal_origin),
        ],
        exception_handlers={HTTPException: http_exception, Exception: server_error,
                            **{error: database_unavailable for error in DATABASE_UNAVAILABLE}},
        lifespan=lifespan,
    )
    app.state.templates = templates
    app.state.session_of = identity_service.session_of  # error pages show the signed-in member's menu
    return app


def main() -> None:
    config = load_config()
    serve(make_app(config), config.portal, also_on=config.nodes.address)


if __name__ == "__main__":
    main()
