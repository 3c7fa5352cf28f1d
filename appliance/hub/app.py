"""The hub: JupyterHub as every hub process of the appliance runs it.

On top of JupyterHub it registers with discovery and records a heartbeat with its counts every interval,
on a thread and database connection of its own (discovery/beats.py), which also hears of members' access
endings; it admits only the members discovery assigned to it; it fences itself (stops its user servers and
exits) when it cannot deliver its heartbeats or learns that its epoch is over; and it re-adds its routes to
the shared front proxy every few seconds, so that a restarted proxy serves it again at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import pwd
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jupyterhub.app import JupyterHub
from jupyterhub.httpclient import fetch
from jupyterhub.proxy import ConfigurableHTTPProxy
from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.utils import url_path_join
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthCallbackHandler
from sqlalchemy.exc import SQLAlchemyError
from systemdspawner import SystemdSpawner, systemd
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from traitlets import Dict, Float, Int, List, Unicode, default
from traitlets.config import Configurable

from appliance import __version__
from appliance.discovery import DiscoverySettings
from appliance.discovery.beats import PROXY_CHANNEL, HeartbeatThread
from appliance.discovery.registry import Heartbeat
from appliance.hub import upstream
from appliance.hub.access import STORAGE_TOKEN_PATH, StorageTokenHandler, end_access
from appliance.hub.lockdown import PORTAL_OWNED_PAGES, PortalOwnedPage
from appliance.hub.memory import MEMORY_PATH, ServerMemoryHandler, process_tree_bytes
from appliance.hub.profiles import Profile, choose
from appliance.identity import ENDINGS_CHANNEL
from appliance.logscrub import scrub_handlers
from appliance.storage.mounts import parse_mounts
from appliance.storage.tokens import StorageTokens
from appliance.supervisor import logs as supervisor_logs

LOG_WRITER = supervisor_logs.__file__  # run by path with -I -S: a few MB per member (the standard library only)
COUNT_INTERVAL_S = 5.0  # between counts of the servers running and starting (for people: hubs list, console)
LOAD_INTERVAL_S = 10.0  # between measurements of the active members and the memory the heartbeat reports
ACTIVE_WITHIN_S = 600  # a member active this recently counts as active (servers report activity every 300 s)
NEVER = datetime.min.replace(tzinfo=timezone.utc)


def _aware(moment: datetime | None) -> datetime:
    """JupyterHub's timestamps as aware UTC (its database keeps them naive, in UTC)."""
    if moment is None:
        return NEVER
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class SharedProxy(ConfigurableHTTPProxy):
    """The appliance's one front proxy, shared by all hubs and started by the supervisor. A hub sees,
    and so prunes, only the routes under its own base_url: otherwise every hub's route check would
    delete the others' routes. Under host routing the proxy's routes start with the hub origin's host
    name, which this hub adds and takes off, unless members have hosts of their own: JupyterHub's host
    routing (``subdomain_host``) then puts a host in every route itself."""

    route_host = Unicode("", config=True, help="The hub origin's host name when the proxy routes by host name.")

    def _routespec_to_chp_path(self, routespec: str) -> str:
        path: str = super()._routespec_to_chp_path(routespec)
        return f"/{self.route_host}{path}" if self.route_host else path

    def _routespec_from_chp_path(self, chp_path: str) -> str:
        prefix = f"/{self.route_host}"
        if self.route_host and (chp_path == prefix or chp_path.startswith(prefix + "/")):
            chp_path = chp_path[len(prefix):] or "/"
        routespec: str = super()._routespec_from_chp_path(chp_path)
        return routespec

    async def has_hub_route(self) -> bool:
        """Whether the proxy still has this hub's own route: one lookup, where JupyterHub's route check lists
        every route and queries the hub's database. A proxy without it was restarted and knows none of
        this hub's routes; one with it has lost none (only the hub and the portal's tending of dead hubs
        remove them)."""
        url = url_path_join(self.api_url, "api/routes", self._routespec_to_chp_path(self.app.hub.routespec))
        response = await fetch(url, raise_for_status=False, headers={"Authorization": f"token {self.auth_token}"})
        response.release()
        if response.status not in (200, 404):
            response.raise_for_status()
        return bool(response.status == 200)

    async def get_all_routes(self) -> dict[str, Any]:
        routes: dict[str, Any] = await super().get_all_routes()
        return {spec: route for spec, route in routes.items() if self._path_of(spec).startswith(self.app.base_url)}

    def _path_of(self, routespec: str) -> str:
        """A route's path: with members on hosts of their own (JupyterHub's host routing) a routespec starts
        with its host, "alice.hub.lab.example.org/hubs/1/user/alice/"."""
        return routespec if routespec.startswith("/") else "/" + routespec.partition("/")[2]


class DiscoveryClient:
    """This hub's calls to the portal's discovery API, with its credential."""

    def __init__(self, portal_url: str, hub_id: str, credential: str):
        self.base = f"{portal_url.rstrip('/')}/api/discovery/v1/hubs/{hub_id}"
        self.headers = {"Authorization": f"Bearer {credential}", "Content-Type": "application/json"}
        self.http = AsyncHTTPClient()

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None,
                   timeout_s: float = 5) -> dict[str, Any]:
        request = HTTPRequest(f"{self.base}/{path}", method=method, headers=self.headers,
                              body=json.dumps(body) if body is not None else None,
                              connect_timeout=timeout_s, request_timeout=timeout_s)
        response = await self.http.fetch(request)
        answer: dict[str, Any] = json.loads(response.body)
        return answer


class CallbackHandler(OAuthCallbackHandler):
    """A member this hub refuses (discovery placed them elsewhere) is sent to the Research page, which
    frames their own hub; inside a frame (research.js moves it) they see the hub's refusal instead."""

    async def get(self) -> None:
        try:
            await super().get()
        except web.HTTPError as error:
            if error.status_code != 403 or self.request.headers.get("Sec-Fetch-Dest") == "iframe":
                raise
            self.redirect(self.authenticator.research_url)


class ApplianceAuthenticator(GenericOAuthenticator):
    """GenericOAuthenticator against the portal that admits only the members discovery assigned to
    this hub and makes nobody a hub admin (lockdown.py: the portal manages people); JupyterHub's
    admin and token pages go to the portal instead."""

    callback_handler = CallbackHandler
    research_url = Unicode(config=True, help="The portal's Research page, where refused members are sent.")
    portal_page_url = Unicode(config=True, help="The portal's home page, where the hub's admin and token pages "
                              "send people (the portal manages them).")
    custom_403_message = Unicode("Your research is served by another hub: open Research in the portal.",
                                 config=True, help="What a refused member reads inside the Research page's frame.")

    async def check_allowed(self, username: str, auth_model: dict[str, Any] | None) -> bool:
        """Only discovery decides (the portal already refused anyone it does not know or disabled)."""
        hub: ApplianceHub = self.parent
        answer = await hub.discovery.call("GET", f"members/{username}")
        if not answer["assigned"]:
            self.log.warning("refusing %s: discovery assigned them to hub %s, not to this one", username,
                             answer["hub"])
        return bool(answer["assigned"])

    async def update_auth_model(self, auth_model: dict[str, Any]) -> dict[str, Any]:
        auth_model = await super().update_auth_model(auth_model)
        auth_model["admin"] = False  # a portal admin is a member here (an earlier login's flag is taken back)
        return auth_model

    def get_handlers(self, app: JupyterHub) -> list[tuple[str, Any] | tuple[str, Any, dict[str, Any]]]:
        """Ours, then the pages the portal owns: JupyterHub lists an authenticator's handlers before its own."""
        portal = {"portal_url": self.portal_page_url}
        return [*super().get_handlers(app), *[(path, PortalOwnedPage, portal) for path in PORTAL_OWNED_PAGES]]


class ApplianceHub(JupyterHub):
    hub_id = Unicode(config=True, help="This hub's id; its base_url is /hubs/<id>/.")
    portal_url = Unicode(config=True, help="The portal as this hub reaches it (discovery lives there).")
    discovery_credential = Unicode(config=True, help="This hub's credential for the discovery API.")
    registry_url = Unicode(config=True, help="The appliance's database, where this hub records its heartbeats.")
    spawner_name = Unicode("local", config=True, help="Reported to discovery: how this hub spawns.")
    isolation = Unicode("none", config=True, help="Reported to discovery: what separates user servers.")
    route_check_interval_s = Float(30.0, config=True, help="Seconds between looks at whether the front proxy "
                                   "still has this hub's routes, re-added when it lost them (a restarted proxy "
                                   "knows no routes). A fallback: the supervisor tells the hubs at once when "
                                   "it restarted the proxy (beats.PROXY_CHANNEL).")

    epoch = 0
    timings = DiscoverySettings()  # discovery's, from the registration
    heartbeats: HeartbeatThread | None = None
    _started: asyncio.Event  # set when start() has returned
    _counts_now = (0, 0)  # (running, pending), kept as the heartbeats' thread reads them
    access_cursor = 0  # the last access ending this hub handled
    _endings: asyncio.Task[None] | None = None  # reading the access endings discovery has for this hub
    _endings_again = False  # notified meanwhile: read once more
    load: dict[str, int | None] = {"active": 0, "memory_bytes": None}  # measured every LOAD_INTERVAL_S

    def init_handlers(self) -> None:
        super().init_handlers()
        upstream.add_api_handler(self, STORAGE_TOKEN_PATH, StorageTokenHandler,
                                 {"tokens": StorageEnvMixin(config=self.config).storage_tokens()})
        upstream.add_api_handler(self, MEMORY_PATH, ServerMemoryHandler, {})
        upstream.answer_database_errors(self)

    def init_logging(self) -> None:
        """JupyterHub's logging, with codes and secrets scrubbed from every record (tornado's warnings
        quote a refused request's whole URI)."""
        super().init_logging()
        scrub_handlers([self.log, logging.getLogger()])

    async def start(self) -> None:
        self._started = asyncio.Event()
        await super().start()
        self.discovery = DiscoveryClient(self.portal_url, self.hub_id, self.discovery_credential)
        registered_at = time.monotonic()
        strangers = await self._register()
        await self._measure_load()
        await self._count()
        upstream.every(self, COUNT_INTERVAL_S, self._count)
        loop = asyncio.get_running_loop()
        self.heartbeats = HeartbeatThread(
            self.registry_url, self.timings, self.hub_id, self.epoch, registered_at, self._heartbeat,
            on_fence=lambda why: loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._fence(why))),
            listen={ENDINGS_CHANNEL: lambda: loop.call_soon_threadsafe(self._read_endings),
                    PROXY_CHANNEL: lambda: asyncio.run_coroutine_threadsafe(self._check_routes(told=True), loop)})
        self.heartbeats.start()
        upstream.every(self, self.route_check_interval_s, self._check_routes)
        # the portal removes a dead hub's routes after each reap: one that judged this hub dead just before it
        # registered again may remove the routes it has just added, within a reap or two
        loop.call_later(3 * self.timings.heartbeat_interval_s, lambda: asyncio.ensure_future(self._check_routes()))
        upstream.every(self, LOAD_INTERVAL_S, self._measure_load)
        for user in strangers:  # after the heartbeats start: stopping servers takes seconds
            self.log.warning("stopping %s's server: discovery assigned them to another hub", user.name)
            await self._stop_servers(user)
        self._started.set()

    async def _register(self) -> list[Any]:
        """Register with discovery (its epoch and timings); the users whose servers run here but who were moved
        elsewhere while this hub was away (one server per member: they are to be stopped)."""
        answer = await self.discovery.call("POST", "register", {"spawner": self.spawner_name,
                                                                 "isolation": self.isolation,
                                                                 "version": __version__}, timeout_s=30)
        self.epoch = answer["epoch"]
        self.timings = DiscoverySettings(heartbeat_interval_s=answer["heartbeat_interval_s"],
                                         suspect_after_s=answer["suspect_after_s"],
                                         dead_after_s=answer["dead_after_s"], fence_after=answer["fence_after"])
        self.access_cursor = answer["access_cursor"]
        members = set(answer["members"])
        self.log.info("registered with discovery as hub %s, epoch %d, %d member(s)", self.hub_id, self.epoch,
                      len(members))
        return [user for user in self.users.values() if user.name not in members and user.active]

    async def _count(self) -> None:
        """The servers running and starting, for the heartbeats' thread."""
        try:
            spawners = [spawner for user in self.users.values() for spawner in user.spawners.values()]
            self._counts_now = (sum(1 for spawner in spawners if spawner.ready),
                                sum(1 for spawner in spawners if spawner.pending == "spawn"))
        except SQLAlchemyError as error:  # the hub's database is restarting: the last counts will do
            self.log.warning("heartbeat with the last counts: the hub's database did not answer (%s)", error)
            self.db.rollback()  # as JupyterHub's handlers do, so that the session works again once it is back

    def _heartbeat(self) -> Heartbeat:
        """This hub's next heartbeat (called on the heartbeats' thread: it reads what the event loop keeps)."""
        running, pending = self._counts_now
        return Heartbeat(self.hub_id, self.epoch, running, pending, active=self.load["active"] or 0,
                         memory_bytes=self.load["memory_bytes"])

    async def _measure_load(self) -> None:
        """What the heartbeat reports besides its counts: the members active in the last ACTIVE_WITHIN_S
        (JupyterHub's last_activity: hub requests, and the activity their servers report), and the resident
        memory of this hub's process tree, which holds the local spawner's servers and their kernels (the
        systemd spawner's servers are units of their own, not counted here)."""
        since = datetime.now(timezone.utc) - timedelta(seconds=ACTIVE_WITHIN_S)
        active = sum(1 for user in self.users.values() if _aware(user.last_activity) >= since)
        self.load = {"active": active, "memory_bytes": await asyncio.to_thread(process_tree_bytes, os.getpid())}

    def _read_endings(self) -> None:
        """Discovery has access endings for this hub (or may have: the heartbeats' thread was notified, or has
        just begun to listen): read them, once more if notified while reading."""
        if self._endings is None or self._endings.done():
            self._endings = asyncio.ensure_future(self._handle_endings())
        else:
            self._endings_again = True

    async def _handle_endings(self) -> None:
        """Sign out every member whose access ended since this hub's cursor, until discovery has no more
        (a batch is limited); a call that fails is made again after a heartbeat interval."""
        while True:
            self._endings_again = False
            try:
                answer = await self.discovery.call("GET", f"access-endings?since={self.access_cursor}")
            except Exception as error:  # the portal is restarting: the endings wait for it
                self.log.warning("could not read the access endings (%s); trying again", error)
                await asyncio.sleep(self.timings.heartbeat_interval_s)
                continue
            for ending in answer["access_endings"]:  # sign-outs, password changes, disables
                end_access(self, ending, self._stop_servers, self.log)
            self.access_cursor = answer["access_cursor"]
            if not answer["access_endings"] and not self._endings_again:
                return

    async def cleanup(self) -> None:
        if self.heartbeats is not None:
            self.heartbeats.stop()
        await super().cleanup()

    async def _fence(self, why: str) -> None:
        """Stop every user server and exit: this hub cannot know whether its members moved elsewhere.
        The supervisor starts it again, and it registers anew."""
        self.log.error("fencing hub %s (%s): stopping its user servers and exiting", self.hub_id, why)
        upstream.stop_periodic(self)
        if self.heartbeats is not None:
            self.heartbeats.stop()
        try:
            # all at once, as JupyterHub's own cleanup does: one after another, the last of 20 members' servers
            # went on answering their old tabs for over 10 s
            users = list(self.users.values())
            stopped = await asyncio.gather(*(self._stop_servers(user) for user in users), return_exceptions=True)
            for user, outcome in zip(users, stopped, strict=True):
                if isinstance(outcome, Exception):  # e.g. the hub's database is down: the next start stops the rest
                    self.log.error("could not stop %s's server while fencing", user.name, exc_info=outcome)
        finally:
            # whatever happened: a fenced hub that stays up is registered nowhere. Not before start() has returned:
            # JupyterHub runs it to completion first, and a stop meanwhile would leave the process up, serving nothing
            await self._started.wait()
            self.stop()

    async def _stop_servers(self, user: Any) -> None:
        for name, spawner in list(user.spawners.items()):
            if spawner.active:
                await user.stop(name)

    async def _check_routes(self, told: bool = False) -> None:
        """Add this hub's routes again if the front proxy lost them: when ``told`` (the supervisor restarted the
        proxy, or this hub has just begun to listen), and every route_check_interval_s in case that word was
        lost (PostgreSQL was down)."""
        try:
            if not await self.proxy.has_hub_route():
                self.log.info("the front proxy lost this hub's routes (%s): adding them again",
                              "restarted, the supervisor says" if told else "seen by the periodic check")
                await upstream.check_routes(self)
        except Exception as error:  # the proxy is restarting: next time
            self.log.warning("could not check the proxy's routes: %s", error)


class StorageEnvMixin(Configurable):
    """Gives a spawner's user servers the portal's storage API, a storage token for their member and the
    hybrid mode's mounted folders (APPLIANCE_STORAGE_URL, APPLIANCE_STORAGE_TOKEN, APPLIANCE_STORAGE_MOUNTS),
    which RemoteContentsManager reads. List it before the Spawner class among the bases; configured as
    ``c.StorageEnvMixin``, it applies to every spawner that uses it."""

    storage_url = Unicode(config=True, help="The portal's storage API, as user servers reach it.")
    storage_token_key = Unicode(config=True, help="The key storage tokens are signed with.")
    storage_token_lifetime_s = Int(600, config=True, help="Seconds a user server's storage token lasts (it renews "
                                   "it from the hub before then).")
    storage_mounts = Unicode("", config=True, help="storage.mounts: the folders on this machine in every "
                             "member's files, as 'NAME=PATH[:ro], …' (empty: none).")
    user: Any  # the Spawner's

    hub: Any  # the Spawner's

    def storage_tokens(self) -> StorageTokens:
        return StorageTokens(self.storage_token_key, self.storage_token_lifetime_s)

    def get_env(self) -> dict[str, str]:
        env: dict[str, str] = super().get_env()  # type: ignore[misc]
        env.update(APPLIANCE_STORAGE_URL=self.storage_url,
                   APPLIANCE_STORAGE_TOKEN=self.storage_tokens().mint(self.user.name),
                   APPLIANCE_STORAGE_RENEW_URL=f"{self.hub.api_url.rstrip('/')}/{STORAGE_TOKEN_PATH}",
                   APPLIANCE_STORAGE_MOUNTS=self.storage_mounts)
        return env


class ProfileMixin(Configurable):
    """Shapes a member's server by the server profile they chose (hubs.profiles, appliance/hub/profiles.py) if
    their groups allow it, and by nothing else they post with their start: a member can post any options to the
    hub's API (``servers!user``) or its spawn page, and a profile of a group they are not in is refused here as
    the portal refuses it. The profile gives the server's memory and CPUs (the spawner enforces them, or asks
    for them), the kernel new notebooks start with, and how long it may sit idle. List it first among the
    bases."""

    profiles = List(Dict(), config=True, help="The server profiles, 'standard' first (HubSettings.server_profiles), "
                                              "each as Profile.to_json() with its groups.")
    culler_timeout_s = Int(0, config=True, help="When the hubs' idle culler stops a server (0: never): a profile "
                                                "with a shorter idle timeout ends its server itself.")
    user: Any  # the Spawner's
    user_options: dict[str, Any]
    mem_limit: Any
    cpu_limit: Any
    log: Any
    chosen: Profile | None = None

    def server_profiles(self) -> list[Profile]:
        return [Profile(**{**entry, "groups": tuple(entry.get("groups", ()))}) for entry in self.profiles]

    async def start(self) -> Any:
        options = dict(self.user_options or {})
        groups = [group.name for group in self.user.groups]
        self.chosen = profile = choose(self.server_profiles(), str(options.pop("profile", "") or ""), groups)
        if options:
            self.log.warning("ignoring %s's start options %s: only a server profile may be chosen",
                             self.user.name, sorted(options))
        self.user_options = {"profile": profile.name}
        self.mem_limit = profile.memory or None
        self.cpu_limit = profile.cpus or None
        self.limits_changed()
        self.log.info("starting %s's server with the profile %s (memory %s, CPUs %s)", self.user.name, profile.name,
                      profile.memory or "unlimited", profile.cpus or "unlimited")
        return await super().start()  # type: ignore[misc]

    def limits_changed(self) -> None:
        """Carry mem_limit and cpu_limit into whatever the spawner derives from them (the Slurm request, the pod's
        guarantees), which would otherwise keep the values of the member's first start."""

    def get_args(self) -> list[str]:
        args: list[str] = super().get_args()  # type: ignore[misc]
        profile = self.chosen
        if profile is None:
            return args
        if profile.environment:
            kernel = "python3" if profile.environment == "default" else profile.environment
            args.append(f"--MappingKernelManager.default_kernel_name={kernel}")
        idle = profile.idle_timeout_s
        if idle and (not self.culler_timeout_s or idle < self.culler_timeout_s):  # sooner than the culler would
            args += [f"--MappingKernelManager.cull_idle_timeout={profile.idle_timeout_s}",
                     f"--ServerApp.shutdown_no_activity_timeout={profile.idle_timeout_s}"]
        return args


class ConfigurationOnlyMixin:
    """Keeps what a member may post with their start from the spawners that would act on it (after
    ProfileMixin has read their profile): batchspawner merges them into the job script's variables (a
    partition, a memory, a command of their choosing), and KubeSpawner applies a profile of its own by name."""

    user_options: dict[str, Any]

    async def start(self) -> Any:
        self.user_options = {}
        return await super().start()  # type: ignore[misc]


class MemberAccountMixin(Configurable):
    """The member's own system user (``jupyter-<name>``, made at their first start by a hub running as root,
    with no password, its home under the appliance's home), which their server runs as: the local spawner's
    processes and the Slurm spawner's jobs."""

    members_dir = Unicode(config=True, help="Where members' system users get their home directories.")
    user: Any  # the spawner's
    log: Any
    storage_mounts: str  # StorageEnvMixin's

    def system_user(self) -> str:
        """The Unix user this member's server runs as."""
        if os.geteuid() != 0:
            return pwd.getpwuid(os.getuid()).pw_name
        name = f"jupyter-{self.user.name}"
        if len(name) > 32:  # the longest Unix user name
            name = f"jupyter-{self.user.name[:15]}-{hashlib.sha256(self.user.name.encode()).hexdigest()[:8]}"
        return name

    async def ensure_system_user(self) -> pwd.struct_passwd:
        """The member's system user, with its home in this appliance's members_dir: made if missing, and
        pointed at a fresh home if it has none there (a user left by an earlier install or home)."""
        name, home = self.system_user(), Path(self.members_dir) / self.user.name
        home.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            # an ordinary account, not --system: the system range (100-999) is shared with the machine's
            # packages, and a lab has more members over its life than the few hundred ids left there
            await self._run("useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/bash",
                            "--comment", f"lab member {self.user.name}", name)
            self.log.info("created system user %s for member %s", name, self.user.name)
            account = pwd.getpwnam(name)
        if account.pw_dir != str(home):
            try:
                await self._run("usermod", "--home", str(home), name)
            except RuntimeError as error:  # in use by a process of another install: the server's HOME is set anyway
                self.log.warning("%s; %s's server is given HOME=%s all the same", error, name, home)
            account = pwd.getpwnam(name)
        if not home.is_dir():
            home.mkdir(mode=0o700)
            os.chown(home, account.pw_uid, account.pw_gid)
        return account

    def ensure_member_folders(self, account: pwd.struct_passwd) -> None:
        """The member's own folders among storage.mounts (PATH with {username}), made if missing and owned
        by their system user: their server, running as that user, could not make them under a parent
        that root owns. Shared folders are left as the administrator made them."""
        for mount in parse_mounts(self.storage_mounts):
            folder = Path(mount.root_for(self.user.name))
            if not mount.per_member or mount.read_only or folder.exists():
                continue
            folder.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            folder.mkdir(mode=0o700)
            os.chown(folder, account.pw_uid, account.pw_gid)

    @staticmethod
    async def _run(*argv: str) -> None:
        process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.STDOUT)
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{argv[0]} for {argv[-1]} failed: {output.decode().strip()}")

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        account = pwd.getpwnam(self.system_user())
        env.update(USER=account.pw_name, HOME=str(Path(self.members_dir) / self.user.name), SHELL="/bin/bash")
        return env


class LocalSpawner(ProfileMixin, MemberAccountMixin, StorageEnvMixin, LocalProcessSpawner):
    """A user server as a local process, never as root. A hub running as root starts it as the member's
    own system user (MemberAccountMixin); otherwise as the hub's own user. Nothing separates servers beyond
    Unix users: discovery and `appliance status` report the isolation as "none"."""

    output_log_dir = Unicode(config=True, help="Where each member's server output goes, as <name>.log.")
    output_log_max_bytes = Int(10_000_000, config=True, help="Bytes at which a member's log rotates (0: never).")
    output_log_backups = Int(3, config=True, help="Rotated files of a member's log kept.")
    output_journal_home = Unicode("", config=True, help="Given (the appliance's home, when systemd runs it): each "
                                  "member's lines go to the journal too, with their name and hub as fields.")
    hub_id = Unicode("", config=True, help="This hub's id, for the journal's fields.")
    _output_writer: subprocess.Popen[bytes] | None = None

    def make_preexec_fn(self, name: str) -> Any:
        if os.geteuid() == 0:
            return super().make_preexec_fn(self.system_user())
        home = self.user_env({})["HOME"]
        return lambda: os.chdir(home)

    async def start(self) -> Any:
        if os.geteuid() == 0:
            self.ensure_member_folders(await self.ensure_system_user())
        else:
            (Path(self.members_dir) / self.user.name).mkdir(mode=0o700, parents=True, exist_ok=True)
        output = self._open_output_log()
        configured: dict[str, Any] = self.popen_kwargs  # type: ignore[has-type]
        self.popen_kwargs = {**configured, "stdout": output, "stderr": output}
        try:
            ip, port = await super().start()
        finally:
            self.popen_kwargs = configured
            os.close(output)
        await self._listening(ip, port)
        return ip, port

    def _open_output_log(self) -> int:
        """A pipe for the server's stdout and stderr (its kernels' too), whose other end a writer of the
        hub's own user copies into ``<output_log_dir>/<name>.log`` (0600): the member can neither forge
        lines in the hub's log nor touch their own log but through the pipe. The writer outlives a
        restarted hub and ends when the last process holding the pipe does. Returns the write end."""
        log_dir = Path(self.output_log_dir)
        log_dir.mkdir(mode=0o700, exist_ok=True)
        path = log_dir / f"{self.user.name}.log"
        self.log.info("%s's server writes its output to %s", self.user.name, path)
        read_end, write_end = os.pipe()
        try:
            self._output_writer = subprocess.Popen(  # reaped by a later Popen, or by the supervisor
                [sys.executable, "-I", "-S", LOG_WRITER, str(path), str(self.output_log_max_bytes),
                 str(self.output_log_backups),
                 *([self.output_journal_home, self.user.name, self.hub_id] if self.output_journal_home else [])],
                stdin=read_end, stdout=subprocess.DEVNULL, start_new_session=True)
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        return write_end

    async def _listening(self, ip: str, port: int) -> None:
        """Wait for the server's port every 50 ms: JupyterHub's own checks back off and notice a started
        server seconds late. Past start_timeout, or once the process has ended, it returns and leaves the
        verdict to JupyterHub's own wait (which reports the failure to the member and in the log)."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline and self.proc is not None and self.proc.poll() is None:
            try:
                _, writer = await asyncio.open_connection(ip, port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return


MEMBERS_STATE = "appliance-members"  # under /var/lib: dynamic users' homes (dotfiles; notebooks are in the storage)


class ApplianceSystemdSpawner(ProfileMixin, StorageEnvMixin, SystemdSpawner):
    """A user server as a transient systemd unit (needs systemd as PID 1 and the hub running as root):
    run as a dynamic user that exists only while the server runs, with its own /tmp and /dev, no way
    to gain privileges, and the hubs.memory_limit and hubs.cpu_limit_cores (Spawner.mem_limit, cpu_limit).
    Discovery and `appliance status` report the isolation as "systemd". hub_config puts the hub's id
    in ``unit_name_template``, so that the units of different hubs never share a name."""

    @default("dynamic_users")
    def _default_dynamic_users(self) -> bool:
        return True

    @default("isolate_tmp")
    def _default_isolate_tmp(self) -> bool:
        return True

    @default("isolate_devices")
    def _default_isolate_devices(self) -> bool:
        return True

    @default("unit_name_template")
    def _default_unit_name_template(self) -> str:
        return "appliance-{USERNAME}"

    def _expand_user_vars(self, string: str) -> str:
        """SystemdSpawner gives a dynamic user the state directory /var/lib/<member name>: a member called
        "postgresql" or "dpkg" would be handed that system folder. Ours live under /var/lib/appliance-members."""
        if string == "{USERNAME}":  # only StateDirectory= is this bare template
            string = f"{MEMBERS_STATE}/{{USERNAME}}"
        elif string == "/var/lib/{USERNAME}":  # HOME and the working directory
            string = f"/var/lib/{MEMBERS_STATE}/{{USERNAME}}"
        expanded: str = super()._expand_user_vars(string)
        return expanded

    async def start(self) -> Any:
        # A unit with a dynamic user has its runtime directory under /run/private, /run/<unit> a link to it; one
        # killed (a full restart of the appliance ends members' servers) leaves the link, dangling, and
        # SystemdSpawner's os.makedirs of /run/<unit> for its environment file then fails with "File exists":
        # the member could never start again (seen on the fresh machine after `systemctl restart appliance`)
        runtime = Path(systemd.RUN_ROOT) / self.unit_name
        if runtime.is_symlink() and not runtime.exists():
            self.log.info("removing %s, left dangling by %s's last server", runtime, self.user.name)
            runtime.unlink()
        return await super().start()

    def get_args(self) -> list[str]:
        """The arguments with their braces doubled: SystemdSpawner.start passes each through
        ``str.format`` (to expand {USERNAME}), and ours carry JSON."""
        return [arg.replace("{", "{{").replace("}", "}}") for arg in super().get_args()]
