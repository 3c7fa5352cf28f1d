"""Hub N's JupyterHub configuration, derived from the appliance's (there is no jupyterhub_config.py)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import make_url
from traitlets.config import Config as TraitletsConfig

from appliance.db import ensure_database
from appliance.discovery.settings import DiscoverySettings
from appliance.envs import Environments
from appliance.errors import ConfigError
from appliance.home import Home
from appliance.hub import addresses, lockdown
from appliance.hub.access import SERVER_AUTH_CACHE_S
from appliance.hub.addresses import Addresses
from appliance.hub.settings import HubSettings, KubernetesSettings, SlurmSettings
from appliance.postgres import PostgresSettings, database_url
from appliance.proxy import STRICT_TRANSPORT_SECURITY, ProxySettings
from appliance.proxy import TOKEN_SECRET as PROXY_TOKEN_SECRET
from appliance.storage.service import TOKEN_SECRET
from appliance.storage.settings import StorageSettings
from appliance.supervisor import MARKER, SupervisorSettings
from appliance.supervisor.logs import under_systemd
from appliance.webui import LABEXTENSIONS

SYSTEMD_RUNNING = Path("/run/systemd/system")
LAB_SETTINGS = Path(__file__).parent / "lab_settings"  # JupyterLab's defaults for members: no news prompt
HUB_TEMPLATES = Path(__file__).parent / "templates"  # JupyterHub's pages, without the links the portal replaces
SPAWNER_CLASSES = {"local": "appliance.hub.app.LocalSpawner", "systemd": "appliance.hub.app.ApplianceSystemdSpawner",
                   "slurm": "appliance.hub.slurm.ApplianceSlurmSpawner",
                   "kubernetes": "appliance.hub.kubernetes.ApplianceKubeSpawner"}
# in every member's server, besides those the venv enables: the gallery's endpoints (publish) and the memory
# in JupyterLab's status bar; JupyterLab finds the gallery's extension, prebuilt, in LABEXTENSIONS
SERVER_EXTENSIONS = {"appliance.singleuser": True, "jupyter_resource_usage": True}
DEFAULT_KUBECONFIG = Path.home() / ".kube" / "config"  # the Kubernetes client's, as kubectl's
IN_CLUSTER = "KUBERNETES_SERVICE_HOST"  # set in every pod: a hub running in the cluster uses its service account
SLURM_COMMANDS = ("sbatch", "squeue", "scancel")  # what the Slurm spawner runs, on the hub's machine
IDLE_CULLER = "idle-culler"  # the managed service's name, and its role's


class HubSources(Protocol):
    """The parts of the appliance's configuration (appliance.config.Config) a hub's is derived from."""

    @property
    def home(self) -> Home: ...
    @property
    def addresses(self) -> Addresses: ...
    @property
    def hubs(self) -> HubSettings: ...
    @property
    def discovery(self) -> DiscoverySettings: ...
    @property
    def proxy(self) -> ProxySettings: ...
    @property
    def storage(self) -> StorageSettings: ...
    @property
    def supervisor(self) -> SupervisorSettings: ...
    @property
    def postgres(self) -> PostgresSettings: ...
    @property
    def slurm(self) -> SlurmSettings: ...
    @property
    def kubernetes(self) -> KubernetesSettings: ...


def spawner_choice(config: HubSources) -> tuple[str, str]:
    """(spawner, isolation) for this machine; asking for a spawner where it cannot work fails now, not
    at the first spawn's time-out."""
    wanted = config.hubs.spawner
    if wanted == "slurm":
        missing = [command for command in SLURM_COMMANDS if shutil.which(command) is None]
        if missing:
            raise ConfigError(f"hubs.spawner = 'slurm', but Slurm's {', '.join(missing)} is not on this machine.",
                              hint="Install Slurm's client (apt-get install slurm-client) with the cluster's "
                                   "slurm.conf and munge key, then start the appliance again.")
        return "slurm", "slurm"  # each job as the member's own user, on the cluster's nodes
    if wanted == "kubernetes":
        check_kubernetes(config)
        return "kubernetes", "kubernetes"
    systemd = SYSTEMD_RUNNING.is_dir()
    if wanted == "systemd" and not systemd:
        raise ConfigError("hubs.spawner = 'systemd', but systemd is not running on this machine (no "
                          f"{SYSTEMD_RUNNING}).", hint="Set hubs.spawner to 'local' or 'auto'.")
    if wanted == "systemd" or (wanted == "auto" and systemd):
        return "systemd", "systemd"
    return "local", "none"


def check_kubernetes(config: HubSources) -> None:
    """What pods need of this machine and of the configuration (docs/kubernetes.md)."""
    kubernetes, problem, hint = config.kubernetes, "", ""
    if not kubernetes.image:
        problem = "kubernetes.image is empty"
        hint = "Build the members' server image (docs/kubernetes.md), push it where the cluster pulls from, " \
               "and set kubernetes.image to it."
    elif not config.addresses.node_address:
        problem = "nodes.address is empty: pods reach the hub's API and the storage API over the network"
        hint = "Set nodes.address to this machine's address on the network the cluster's pods reach."
    elif config.storage.mounts:
        problem = "storage.mounts are folders on this machine, which members' pods do not have"
        hint = "Empty storage.mounts (members' notebooks are in the storage either way)."
    elif kubernetes.kubeconfig and not Path(kubernetes.kubeconfig).is_file():
        problem = f"kubernetes.kubeconfig {kubernetes.kubeconfig} is not a file"
        hint = "Copy the cluster's kubeconfig there (kubectl config view --minify --raw), or fix the path."
    elif not kubernetes.kubeconfig and IN_CLUSTER not in os.environ and not DEFAULT_KUBECONFIG.is_file():
        problem = f"there is no kubeconfig and the hub does not run inside the cluster (no {DEFAULT_KUBECONFIG})"
        hint = "Set kubernetes.kubeconfig to a kubeconfig for the cluster."
    if problem:
        raise ConfigError(f"hubs.spawner = 'kubernetes', but {problem}.", hint=hint)


def hub_config(config: HubSources, hub_id: str, credential: str) -> TraitletsConfig:
    home, state = config.home, config.home.root / "hubs" / hub_id
    state.mkdir(parents=True, exist_ok=True)
    registry = make_url(database_url(home, config.postgres))
    hub_database = registry.set(database=addresses.database_name(hub_id))
    ensure_database(hub_database.render_as_string(hide_password=False), str(registry.database))
    spawner, isolation = spawner_choice(config)
    portal_public = config.addresses.portal_origin
    portal_local = config.addresses.portal_local
    # for the hub and user servers alike: framed by the portal only; over HTTPS, HSTS and no cookie in clear
    headers = {"Content-Security-Policy": f"frame-ancestors 'self' {portal_public}"}
    tornado_settings: dict[str, Any] = {"headers": headers}
    if config.addresses.hub_origin.startswith("https:"):
        headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
        tornado_settings["xsrf_cookie_kwargs"] = {"secure": True}

    c = TraitletsConfig()
    c.ApplianceHub.hub_id = hub_id
    c.ApplianceHub.portal_url = portal_local
    c.ApplianceHub.discovery_credential = credential
    c.ApplianceHub.spawner_name = spawner
    c.ApplianceHub.isolation = isolation
    c.ApplianceHub.registry_url = database_url(home, config.postgres)
    c.JupyterHub.base_url = addresses.base_url(hub_id)
    c.JupyterHub.hub_ip = config.addresses.hub_ip
    c.JupyterHub.hub_port = config.addresses.api_port(hub_id)
    c.JupyterHub.ip = config.proxy.host
    c.JupyterHub.port = config.proxy.port
    c.JupyterHub.db_url = hub_database.render_as_string(hide_password=False)
    c.JupyterHub.db_kwargs = {"pool_pre_ping": True}  # a PostgreSQL restart costs no failed request (or 403)
    # JupyterHub's event-loop lag metric wakes the hub every 50 ms: 0.3 s of CPU a minute on an idle hub, for a
    # Prometheus metric nothing in the appliance reads
    c.PeriodicMetricsCollector.event_loop_interval_enabled = False
    c.JupyterHub.cookie_secret_file = str(state / "cookie_secret")
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
    c.JupyterHub.cleanup_servers = False  # a restarted hub resumes its members' servers
    c.JupyterHub.cleanup_proxy = False
    c.JupyterHub.redirect_to_server = False
    c.JupyterHub.tornado_settings = tornado_settings
    c.JupyterHub.proxy_class = "appliance.hub.app.SharedProxy"
    c.ConfigurableHTTPProxy.should_start = False
    c.ConfigurableHTTPProxy.api_url = config.addresses.proxy_api
    c.ConfigurableHTTPProxy.auth_token = home.secret(PROXY_TOKEN_SECRET)
    if config.addresses.members_isolated:  # every member's server on a host of its own: <name>.<hub host>
        c.JupyterHub.subdomain_host = config.addresses.hub_origin
        c.JupyterHub.hub_routespec = config.addresses.hub_routespec(hub_id)
    else:
        c.SharedProxy.route_host = config.addresses.route_host
    c.JupyterHub.authenticator_class = "appliance.hub.app.ApplianceAuthenticator"
    c.ApplianceAuthenticator.client_id = addresses.oauth_client_id(hub_id)
    c.ApplianceAuthenticator.client_secret = home.secret(addresses.oauth_secret_name(hub_id))
    c.ApplianceAuthenticator.oauth_callback_url = config.addresses.oauth_callback(hub_id)
    c.ApplianceAuthenticator.authorize_url = f"{portal_public}/oauth/authorize"
    c.ApplianceAuthenticator.token_url = f"{portal_local}/oauth/token"
    # the claims come in the id_token the token endpoint answers, straight from the portal on loopback
    # (OIDC Core 3.1.3.7): one call less in every sign-in to a hub
    c.ApplianceAuthenticator.userdata_from_id_token = True
    c.ApplianceAuthenticator.scope = ["openid", "profile", "email", "groups"]
    c.ApplianceAuthenticator.username_claim = "preferred_username"
    c.ApplianceAuthenticator.auth_state_groups_key = "oauth_user.groups"
    c.ApplianceAuthenticator.manage_groups = True
    c.ApplianceAuthenticator.allow_all = False  # discovery decides who this hub admits (check_allowed)
    c.ApplianceAuthenticator.any_allow_config = True
    c.ApplianceAuthenticator.auto_login = True
    c.ApplianceAuthenticator.login_service = "the lab's portal"
    c.ApplianceAuthenticator.research_url = f"{portal_public}/research"
    update_portal_owned(c, portal_public)
    update_spawner(c, config, hub_id, spawner, config.addresses.portal_private_url, tornado_settings)
    # a profile's own idle timeout ends its server (ProfileMixin); the culler waits for the longest, and culls
    # nothing if any profile's servers may idle for ever
    idle = [profile.idle_timeout_s for profile in config.hubs.server_profiles()]
    c.ProfileMixin.culler_timeout_s = 0 if 0 in idle else max(idle)
    update_idle_culler(c, c.ProfileMixin.culler_timeout_s)
    # the hub's user servers and services carry the supervisor's mark: `appliance stop` ends them too
    # (a hub that dies alone leaves them running, and takes them up again when it is back)
    supervised = {MARKER: os.environ[MARKER]} if MARKER in os.environ else {}
    # the shared environments' kernels (appliance.envs), the default one in place of the appliance's own
    kernels = {"JUPYTER_PATH": str(Environments(home.envs_dir).jupyter_path)}
    c.Spawner.environment = {**c.Spawner.get("environment", {}), **supervised, **kernels}
    for service in c.JupyterHub.get("services", []):
        service["environment"] = {**service.get("environment", {}), **supervised}
    update_portal_service(c, home.secret(addresses.PORTAL_SERVICE_TOKEN_SECRET))
    return c


def update_spawner(c: TraitletsConfig, config: HubSources, hub_id: str, spawner: str, portal_private_url: str,
                   tornado_settings: dict[str, Any]) -> None:
    """User servers: JupyterLab on the portal's storage, framed by the portal, with the hubs' limits (only
    the systemd spawner enforces them)."""
    home = config.home
    c.JupyterHub.spawner_class = SPAWNER_CLASSES[spawner]
    c.Spawner.default_url = "/lab"
    c.Spawner.cmd = [sys.executable, "-m", "appliance.application.singleuser"]  # jupyterhub.singleuser, started faster
    # traitlets reads a dict on the command line as a Python literal (JSON's true would not parse)
    # no "Build" check on each JupyterLab load: it runs npm (0.4-0.6 s of CPU beside the lab's own start) for
    # source extensions, and members' labs carry only prebuilt ones (the installer's)
    server_settings = {**tornado_settings, "page_config_data": {"buildCheck": False, "buildAvailable": False}}
    c.Spawner.args = [f"--ServerApp.tornado_settings={server_settings!r}",
                      "--ServerApp.contents_manager_class=appliance.storage.routing.RoutingContentsManager",
                      f"--ServerApp.jpserver_extensions={SERVER_EXTENSIONS!r}",
                      f"--LabApp.app_settings_dir={LAB_SETTINGS}",
                      f"--LabApp.extra_labextensions_path={LABEXTENSIONS}",  # one item (a list literal is not parsed)
                      # a token the hub revoked (access ended) is refused within seconds, not 5 minutes
                      f"--HubAuth.cache_max_age={SERVER_AUTH_CACHE_S}",
                      # the hub's last answer about a visitor holds while the hub restarts (singleuser/identity.py)
                      "--ServerApp.identity_provider_class=appliance.singleuser.identity.HubIdentityProvider",
                      # members cannot install into the appliance's environment; the PyPI manager also builds
                      # an SSL context at each start (~0.15 s of CPU)
                      "--LabApp.extension_manager=readonly",
                      # its Prometheus gauges, which nothing scrapes, walk every process on the box each second
                      # in every server: a cost that grows with members squared (the status bar asks on demand)
                      "--ResourceUseDisplay.enable_prometheus_metrics=False"]
    c.Spawner.mem_limit = config.hubs.memory_limit or None
    c.Spawner.cpu_limit = config.hubs.cpu_limit_cores or None
    c.ProfileMixin.profiles = [profile.to_json() for profile in config.hubs.server_profiles()]
    c.StorageEnvMixin.storage_url = f"{portal_private_url}/api/storage/v1"
    c.StorageEnvMixin.storage_token_key = home.secret(TOKEN_SECRET)
    c.StorageEnvMixin.storage_token_lifetime_s = config.storage.token_lifetime_s
    c.StorageEnvMixin.storage_mounts = config.storage.mounts
    c.MemberAccountMixin.members_dir = str(home.root / "members")
    c.LocalSpawner.output_log_dir = str(home.member_logs_dir)
    c.LocalSpawner.output_log_max_bytes = config.supervisor.log_max_bytes
    c.LocalSpawner.output_log_backups = config.supervisor.log_backups
    c.LocalSpawner.output_journal_home = str(home.root) if under_systemd() else ""
    c.LocalSpawner.hub_id = hub_id
    c.ApplianceSystemdSpawner.unit_name_template = f"appliance-hub{hub_id}-{{USERNAME}}"
    c.ApplianceSlurmSpawner.cmd = [str(Path(sys.executable).parent / "appliance-singleuser")]  # a script: see slurm.py
    c.ApplianceSlurmSpawner.partition = config.slurm.partition
    c.ApplianceSlurmSpawner.time_limit = config.slurm.time_limit
    c.ApplianceSlurmSpawner.job_ip = config.slurm.job_ip
    c.ApplianceKubeSpawner.namespace = config.kubernetes.namespace
    c.ApplianceKubeSpawner.image = config.kubernetes.image
    c.ApplianceKubeSpawner.pod_name_template = f"appliance-hub{hub_id}-{{user_server}}"


def update_portal_owned(c: TraitletsConfig, portal_public: str) -> None:
    """People, tokens, starting servers and sign-out belong to the portal (lockdown.py): members' scopes
    only, no hub admin, the admin and token pages sending people to the portal, no Token link in the hub's
    pages, user-redirect never starting a server, and the hub's logout ending at the portal's signed-out
    page, which signs the member out of the portal too."""
    c.JupyterHub.load_roles = [*c.JupyterHub.get("load_roles", []), *lockdown.ROLES]
    c.JupyterHub.template_paths = [str(HUB_TEMPLATES)]
    c.JupyterHub.template_vars = {"portal_url": f"{portal_public}/"}
    c.JupyterHub.user_redirect_hook = lockdown.user_redirect_without_spawning
    c.ApplianceAuthenticator.portal_page_url = f"{portal_public}/"
    c.ApplianceAuthenticator.logout_redirect_url = f"{portal_public}{addresses.SIGNED_OUT_PATH}"


def update_portal_service(c: TraitletsConfig, token: str) -> None:
    """The portal's own calls to the hub's API, with a token only the appliance holds: a member's server
    state, its start progress and memory, stopping it, and the hub's metrics. The portal acts for the member of
    the session it verified (or an admin); a member's browser never holds this token."""
    c.JupyterHub.services = [*c.JupyterHub.get("services", []),
                             {"name": addresses.PORTAL_SERVICE, "api_token": token}]
    c.JupyterHub.load_roles = [*c.JupyterHub.get("load_roles", []), {
        "name": addresses.PORTAL_SERVICE,
        # members' servers: read, start, stop, follow a start (nothing about people); the hub's metrics, which the
        # portal's /metrics/hubs/<id> serves behind the metrics token
        "scopes": ["servers", "read:metrics"],
        "services": [addresses.PORTAL_SERVICE],
    }]


def update_idle_culler(c: TraitletsConfig, timeout_s: int) -> None:
    """Stop servers idle for ``timeout_s`` (0: never) with jupyterhub-idle-culler, run by the hub as a
    managed service with the scopes its README lists. User servers report their activity every quarter
    of the timeout (at most every 300 s, JupyterHub's default), so that a server in use never looks idle."""
    if timeout_s <= 0:
        return
    c.JupyterHub.services = [{
        "name": IDLE_CULLER,
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={timeout_s}",
                    f"--cull-every={min(timeout_s // 2 or 1, 60)}"],
    }]
    c.JupyterHub.load_roles = [*c.JupyterHub.get("load_roles", []), {
        "name": IDLE_CULLER,
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": [IDLE_CULLER],
    }]
    c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": str(min(300, max(1, timeout_s // 4)))}
