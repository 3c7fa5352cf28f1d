"""hub_config's spawner, limits and idle culler, and the spawner classes it names.

Systemd is not PID 1 where these tests run: the systemd spawner is configured, instantiated and started
against a fake ``systemdspawner.systemd`` module, which records the unit it would have run.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import systemdspawner.systemdspawner
from appliance.webui import LABEXTENSIONS
from jupyterhub.objects import Hub
from traitlets.config import Config as TraitletsConfig

from appliance.config import load_config
from appliance.errors import ConfigError
from appliance.hub import addresses, hubconfig, lockdown
from appliance.hub.app import ApplianceSystemdSpawner, ConfigurationOnlyMixin, LocalSpawner, ProfileMixin
from appliance.hub.profiles import ProfileRefused, standard
from appliance.storage.tokens import StorageTokens
from appliance.supervisor import MARKER

CULLER_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]


PORTAL_ROLE = {"name": "portal", "scopes": ["servers", "read:metrics"], "services": ["portal"]}


def configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub_id: str = "3", **env: str) -> TraitletsConfig:
    """hub_config for a home in tmp_path, with ``APPLIANCE_*`` variables ``env``; "systemd" as
    APPLIANCE_HUBS_SPAWNER finds systemd running."""
    monkeypatch.setattr(hubconfig, "ensure_database", lambda url, maintenance: False)  # no PostgreSQL here
    running = tmp_path / "run-systemd-system"
    running.mkdir(exist_ok=True)
    if env.get("APPLIANCE_HUBS_SPAWNER") == "systemd":
        monkeypatch.setattr(hubconfig, "SYSTEMD_RUNNING", running)
    else:
        monkeypatch.setattr(hubconfig, "SYSTEMD_RUNNING", tmp_path / "no-systemd")
    config = load_config(home=tmp_path / "home", environ=env)
    return hubconfig.hub_config(config, hub_id, "credential")


def spawner(cls: type[Any], config: TraitletsConfig, name: str = "ada", groups: tuple[str, ...] = ()) -> Any:
    user = SimpleNamespace(name=name, id=7, url=f"/hubs/3/user/{name}/",
                           groups=[SimpleNamespace(name=group) for group in groups])
    return cls(user=user, hub=Hub(base_url="/hubs/3/"), config=config)


@pytest.fixture
def fake_systemd(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stands in for systemdspawner's systemd module; holds the started unit's arguments."""
    started: dict[str, Any] = {}

    async def start_transient_service(unit_name: str, **unit: Any) -> int:
        started.update(unit, unit_name=unit_name)
        return 0

    async def service_running(unit_name: str) -> bool:
        return started.get("unit_name") == unit_name

    async def service_failed(unit_name: str) -> bool:
        return False

    fake = SimpleNamespace(get_systemd_version=lambda: 252, start_transient_service=start_transient_service,
                           service_running=service_running, service_failed=service_failed)
    monkeypatch.setattr(systemdspawner.systemdspawner, "systemd", fake)
    return started


def test_a_systemd_hub_names_the_appliance_spawner_with_limits_storage_and_a_unit_name_per_hub(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = configure(tmp_path, monkeypatch, APPLIANCE_HUBS_SPAWNER="systemd", APPLIANCE_PORTAL_PORT="8100")
    assert c.JupyterHub.spawner_class == "appliance.hub.app.ApplianceSystemdSpawner"
    assert (c.ApplianceHub.spawner_name, c.ApplianceHub.isolation) == ("systemd", "systemd")
    assert (c.Spawner.mem_limit, c.Spawner.cpu_limit) == ("2G", 1.0)
    assert c.ApplianceSystemdSpawner.unit_name_template == "appliance-hub3-{USERNAME}"
    assert c.StorageEnvMixin.storage_url == "http://127.0.0.1:8100/api/storage/v1"


def test_the_systemd_spawner_runs_a_dynamic_user_isolated_and_limited(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_systemd: dict[str, Any]) -> None:
    c = configure(tmp_path, monkeypatch, APPLIANCE_HUBS_SPAWNER="systemd", APPLIANCE_HUBS_MEMORY_LIMIT="512M",
                  APPLIANCE_HUBS_CPU_LIMIT_CORES="0.5")
    server = spawner(ApplianceSystemdSpawner, c)
    assert server.dynamic_users and server.isolate_tmp and server.isolate_devices and server.disable_user_sudo
    assert server.unit_name == "appliance-hub3-ada"
    assert (server.mem_limit, server.cpu_limit) == (512 * 1024**2, 0.5)


async def test_a_profile_sizes_the_unit_of_a_member_whose_groups_allow_it_and_no_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_systemd: dict[str, Any]) -> None:
    c = configure(tmp_path, monkeypatch, APPLIANCE_HUBS_SPAWNER="systemd",
                  APPLIANCE_HUBS_PROFILES="big: memory=3G cpus=2 groups=big environment=ml idle_timeout_s=600")
    server = spawner(ApplianceSystemdSpawner, c, groups=("physics", "big"))
    server.user_options = {"profile": "big", "req_partition": "admin"}  # what a member may post
    await server.start()
    assert (fake_systemd["properties"]["MemoryMax"], fake_systemd["properties"]["CPUQuota"]) == (3 * 1024**3, "200%")
    assert server.user_options == {"profile": "big"}
    args = fake_systemd["args"]
    assert "--MappingKernelManager.default_kernel_name=ml" in args  # new notebooks open in its environment
    assert "--ServerApp.shutdown_no_activity_timeout=600" in args  # sooner than the culler (3600 s)

    fake_systemd.clear()
    outsider = spawner(ApplianceSystemdSpawner, c, name="bob", groups=("physics",))
    outsider.user_options = {"profile": "big"}
    with pytest.raises(ProfileRefused, match="'big' is for members of big"):
        await outsider.start()
    assert fake_systemd == {}  # no unit
    outsider.user_options = {}
    await outsider.start()
    assert fake_systemd["properties"]["MemoryMax"] == 2 * 1024**3  # standard: the hubs' own limits
    assert not any("shutdown_no_activity_timeout" in arg for arg in fake_systemd["args"])


async def test_the_systemd_spawner_starts_a_unit_with_the_storage_env_and_the_arguments_unchanged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_systemd: dict[str, Any]) -> None:
    c = configure(tmp_path, monkeypatch, APPLIANCE_HUBS_SPAWNER="systemd")
    server = spawner(ApplianceSystemdSpawner, c)
    assert await server.start() == ("127.0.0.1", server.port)
    unit = fake_systemd
    assert unit["unit_name"] == "appliance-hub3-ada"
    assert unit["args"] == c.Spawner.args  # the JSON in them survives systemdspawner's str.format
    assert unit["properties"] | {"MemoryMax": 2 * 1024**3, "CPUQuota": "100%", "DynamicUser": "yes",
                                 "PrivateTmp": "yes", "PrivateDevices": "yes"} == unit["properties"]
    env = unit["environment_variables"]
    assert env["APPLIANCE_STORAGE_URL"] == c.StorageEnvMixin.storage_url
    assert StorageTokens(c.StorageEnvMixin.storage_token_key, 60).verify(env["APPLIANCE_STORAGE_TOKEN"]) == "ada"
    assert env["APPLIANCE_STORAGE_RENEW_URL"] == f"{env['JUPYTERHUB_API_URL']}/appliance/storage-token"
    assert "--HubAuth.cache_max_age=2" in c.Spawner.args  # a revoked visitor is refused within seconds
    # the gallery's endpoints and JupyterLab extension, and the memory in the status bar, in every server
    assert ("--ServerApp.jpserver_extensions={'appliance.singleuser': True, 'jupyter_resource_usage': True}"
            in unit["args"])
    assert f"--LabApp.extra_labextensions_path={LABEXTENSIONS}" in unit["args"]


def test_a_hub_without_systemd_keeps_the_local_spawner_and_gives_it_the_same_storage(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = configure(tmp_path, monkeypatch)
    assert c.JupyterHub.spawner_class == "appliance.hub.app.LocalSpawner"
    assert (c.ApplianceHub.spawner_name, c.ApplianceHub.isolation) == ("local", "none")
    assert (c.Spawner.mem_limit, c.Spawner.cpu_limit) == ("2G", 1.0)  # reported to the server, not enforced
    server = spawner(LocalSpawner, c)
    assert server.storage_url == c.StorageEnvMixin.storage_url
    assert server.storage_token_lifetime_s == c.StorageEnvMixin.storage_token_lifetime_s
    assert server.members_dir == str(tmp_path / "home" / "members")


def test_empty_and_zero_limits_mean_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = configure(tmp_path, monkeypatch, APPLIANCE_HUBS_MEMORY_LIMIT="", APPLIANCE_HUBS_CPU_LIMIT_CORES="0")
    assert (c.Spawner.mem_limit, c.Spawner.cpu_limit) == (None, None)


def test_the_idle_culler_runs_as_a_service_with_its_scopes_and_servers_report_activity_in_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = configure(tmp_path, monkeypatch, APPLIANCE_HUBS_IDLE_TIMEOUT_S="10")
    service, _portal = c.JupyterHub.services
    assert service["name"] == "idle-culler"
    assert service["command"][1:] == ["-m", "jupyterhub_idle_culler", "--timeout=10", "--cull-every=5"]
    assert c.JupyterHub.load_roles == [*lockdown.ROLES,
                                       {"name": "idle-culler", "scopes": CULLER_SCOPES, "services": ["idle-culler"]},
                                       PORTAL_ROLE]
    assert c.Spawner.environment["JUPYTERHUB_ACTIVITY_INTERVAL"] == "2"
    # the shared environments' kernels (appliance.envs) are on every server's JUPYTER_PATH
    assert c.Spawner.environment["JUPYTER_PATH"] == str(tmp_path / "home" / "envs" / "jupyter")


@pytest.mark.parametrize(("timeout_s", "cull_every", "activity_interval"),
                         [(1, 1, 1), (3600, 60, 300), (86_400, 60, 300)])
def test_the_culler_checks_often_enough_and_servers_report_often_enough(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, timeout_s: int, cull_every: int,
        activity_interval: int) -> None:
    c = configure(tmp_path, monkeypatch, APPLIANCE_HUBS_IDLE_TIMEOUT_S=str(timeout_s))
    assert c.JupyterHub.services[0]["command"][-1] == f"--cull-every={cull_every}"
    assert c.Spawner.environment["JUPYTERHUB_ACTIVITY_INTERVAL"] == str(activity_interval)


def test_an_idle_timeout_of_zero_runs_no_culler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = configure(tmp_path, monkeypatch, APPLIANCE_HUBS_IDLE_TIMEOUT_S="0")
    assert [service["name"] for service in c.JupyterHub.services] == ["portal"]
    assert c.JupyterHub.load_roles == [*lockdown.ROLES, PORTAL_ROLE]
    assert "JUPYTERHUB_ACTIVITY_INTERVAL" not in c.Spawner.get("environment", {})


def test_the_portal_reaches_every_hub_as_a_service_whose_token_only_the_appliance_holds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = configure(tmp_path, monkeypatch, hub_id="1"), configure(tmp_path, monkeypatch, hub_id="2")
    [portal] = [service for service in first.JupyterHub.services if service["name"] == "portal"]
    secret = tmp_path / "home" / "secrets" / addresses.PORTAL_SERVICE_TOKEN_SECRET
    assert portal["api_token"] == secret.read_text().strip() and secret.stat().st_mode & 0o077 == 0
    assert "command" not in portal  # not a process the hub runs: the portal itself
    assert [s for s in second.JupyterHub.services if s["name"] == "portal"] == [portal]  # one token for all hubs
    assert PORTAL_ROLE in first.JupyterHub.load_roles


@pytest.mark.parametrize(("key", "value"), [("idle_timeout_s", "-1"), ("memory_limit", "2GB"),
                                            ("memory_limit", "512"), ("cpu_limit_cores", "-0.5"),
                                            ("cpu_limit_cores", "nan")])
def test_bad_limits_are_refused_with_the_key_and_the_form(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"hubs\.{key} = .*must be"):
        load_config(home=tmp_path, environ={f"APPLIANCE_HUBS_{key.upper()}": value})


def test_user_servers_and_services_carry_the_supervisors_mark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MARKER, str(tmp_path))
    c = configure(tmp_path, monkeypatch)
    assert c.Spawner.environment[MARKER] == str(tmp_path)
    assert [service["environment"][MARKER] for service in c.JupyterHub.services if "command" in service] == [
        str(tmp_path)]


async def test_a_member_named_like_a_system_folder_gets_a_home_of_their_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_systemd: dict[str, Any]) -> None:
    server = spawner(ApplianceSystemdSpawner, configure(tmp_path, monkeypatch, APPLIANCE_HUBS_SPAWNER="systemd"),
                     name="postgresql")
    await server.start()
    assert fake_systemd["properties"]["StateDirectory"] == "appliance-members/postgresql"
    assert fake_systemd["environment_variables"]["HOME"] == "/var/lib/appliance-members/postgresql"
    assert fake_systemd["working_dir"] == "/var/lib/appliance-members/postgresql"


def test_a_slurm_hub_asks_for_the_hubs_limits_and_quotes_the_job_command(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import shlex

    from appliance.hub.slurm import ApplianceSlurmSpawner

    monkeypatch.setattr(hubconfig, "SLURM_COMMANDS", ("sh",))  # Slurm's client is not installed here
    c = configure(tmp_path, monkeypatch, APPLIANCE_HUBS_SPAWNER="slurm", APPLIANCE_HUBS_MEMORY_LIMIT="1.5G",
                  APPLIANCE_HUBS_CPU_LIMIT_CORES="0.5", APPLIANCE_SLURM_PARTITION="interactive",
                  APPLIANCE_SLURM_TIME_LIMIT="8:00:00")
    assert c.JupyterHub.spawner_class == "appliance.hub.slurm.ApplianceSlurmSpawner"
    assert (c.ApplianceHub.spawner_name, c.ApplianceHub.isolation) == ("slurm", "slurm")
    job = spawner(ApplianceSlurmSpawner, c)
    assert (job.req_memory, job.req_nprocs, job.req_partition, job.req_runtime) == ("1536M", "1", "interactive",
                                                                                     "8:00:00")
    # batchspawner-singleuser runs its first argument as a script; the arguments carry JSON with spaces and quotes
    command = shlex.split(job.cmd_formatted_for_batch())
    assert command[0].endswith("/batchspawner-singleuser") and command[1].endswith("/appliance-singleuser")
    assert command[2:] == job.get_args() and any("{" in argument and " " in argument for argument in command[2:])


@pytest.mark.parametrize(("key", "value", "said"), [
    ("APPLIANCE_SLURM_TIME_LIMIT", "8 hours", "slurm.time_limit = '8 hours': must be minutes, or"),
    ("APPLIANCE_SLURM_JOB_IP", "compute-1", "slurm.job_ip = 'compute-1': must be an IP address"),
    ("APPLIANCE_KUBERNETES_NAMESPACE", "Research", "kubernetes.namespace = 'Research': must be a Kubernetes name"),
    ("APPLIANCE_KUBERNETES_NAMESPACE", "", "kubernetes.namespace = '': must be a Kubernetes name"),
    ("APPLIANCE_KUBERNETES_IMAGE", "server latest", "kubernetes.image = 'server latest': must be an image"),
])
def test_slurm_and_kubernetes_settings_refuse_what_the_cluster_would(tmp_path: Path, key: str, value: str,
                                                                     said: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(home=tmp_path, environ={key: value})
    assert said in str(error.value)


def test_a_slurm_hub_without_slurms_commands_is_refused_before_it_starts(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hubconfig, "SLURM_COMMANDS", ("sh", "no-such-sbatch"))
    with pytest.raises(ConfigError) as error:
        configure(tmp_path, monkeypatch, APPLIANCE_HUBS_SPAWNER="slurm")
    assert "hubs.spawner = 'slurm', but Slurm's no-such-sbatch is not on this machine" in str(error.value)
    assert "apt-get install slurm-client" in str(error.value)


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: lab, cluster: {server: "https://10.0.0.9:6443", insecure-skip-tls-verify: true}}]
users: [{name: hub, user: {token: not-a-real-token}}]
contexts: [{name: lab, context: {cluster: lab, user: hub}}]
current-context: lab
"""


def kubernetes_env(tmp_path: Path, **env: str) -> dict[str, str]:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    return {"APPLIANCE_HUBS_SPAWNER": "kubernetes", "APPLIANCE_KUBERNETES_IMAGE": "registry.lab/server:0.1.0",
            "APPLIANCE_KUBERNETES_KUBECONFIG": str(kubeconfig), "APPLIANCE_NODES_ADDRESS": "10.0.0.5", **env}


def kube_spawner(c: TraitletsConfig, kubeconfig: str, name: str = "ada") -> Any:
    """The spawner a hub of configuration ``c`` makes for member ``name``."""
    from kubernetes_asyncio.config import kube_config

    from appliance.hub.kubernetes import ApplianceKubeSpawner

    # the hub process is given KUBECONFIG (application/children.py); the client reads it when first imported
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", kubeconfig)
        hub = Hub(ip=c.JupyterHub.hub_ip, port=c.JupyterHub.hub_port, base_url=c.JupyterHub.base_url)
        user = SimpleNamespace(name=name, id=7, url=f"/hubs/3/user/{name}/", groups=[])
        return ApplianceKubeSpawner(user=user, hub=hub, config=c)


async def pod_of(c: TraitletsConfig, kubeconfig: str, name: str = "ada") -> dict[str, Any]:
    """The pod a hub of configuration ``c`` asks the cluster for, for member ``name``, as KubeSpawner sends it."""
    from kubernetes_asyncio.client import ApiClient

    server = kube_spawner(c, kubeconfig, name)
    async with ApiClient() as client:
        pod: dict[str, Any] = client.sanitize_for_serialization(await server.get_pod_manifest())
    pod["metadata"]["namespace"] = server.namespace
    return pod


async def test_a_cluster_that_cannot_be_read_ends_the_start_progress_without_hiding_the_outcome(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """KubeSpawner's progress starts watching the cluster's events; failing, it would cut JupyterHub's progress
    stream before the failed event that tells the member why (seen when it lost the race with the start)."""
    import aiohttp
    from kubespawner import KubeSpawner

    async def unreachable(self: Any) -> None:
        raise aiohttp.ClientConnectionError("Cannot connect to host 10.0.0.9:6443")

    env = kubernetes_env(tmp_path)
    server = kube_spawner(configure(tmp_path, monkeypatch, **env), env["APPLIANCE_KUBERNETES_KUBECONFIG"])
    monkeypatch.setattr(KubeSpawner, "_start_watching_events", unreachable)
    assert [event async for event in server.progress()] == []


async def test_the_stop_after_a_start_the_cluster_did_not_answer_is_bounded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """JupyterHub stops a failed start before it tells the member; KubeSpawner's stop would retry deleting the pod
    for 30 s against a cluster that is not there (seen: the Research page silent meanwhile)."""
    import asyncio
    import time

    import aiohttp
    from kubespawner import KubeSpawner

    from appliance.hub import kubernetes

    async def unreachable(self: Any) -> None:
        raise aiohttp.ClientConnectorError(SimpleNamespace(ssl=None, host="10.0.0.9", port=6443),  # type: ignore[arg-type]
                                           OSError(111, "Connect call failed"))

    async def deleting_for_ever(self: Any, now: bool = False) -> None:
        await asyncio.sleep(3600)

    env = kubernetes_env(tmp_path)
    server = kube_spawner(configure(tmp_path, monkeypatch, **env), env["APPLIANCE_KUBERNETES_KUBECONFIG"])
    monkeypatch.setattr(KubeSpawner, "start", unreachable)
    monkeypatch.setattr(KubeSpawner, "stop", deleting_for_ever)
    monkeypatch.setattr(kubernetes, "UNREACHABLE_STOP_S", 0.2)
    with pytest.raises(RuntimeError, match="The lab's Kubernetes cluster did not answer"):
        await server.start()
    began = time.monotonic()
    assert await server.stop() is None
    assert time.monotonic() - began < 2
    with pytest.raises(asyncio.TimeoutError):  # a stop after a start that reached the cluster is KubeSpawner's own
        await asyncio.wait_for(server.stop(), 0.3)


async def test_a_watch_of_the_pods_cut_short_is_asked_for_again_not_awaited_for_ever(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """KubeSpawner's start cancels its watch of the pods while it loads when the watch of the events fails (the
    cluster not answering). The cancelled watch stayed registered with a first load that never ended, and the
    hub's every later poll, start and stop awaited it for ever: the stop after the failed start too, so the
    member's server sat "stopping" and the Research page heard nothing (seen in clean runs)."""
    import asyncio
    import socket

    import aiohttp

    with socket.socket() as cluster:  # takes connections and never answers: the first load hangs until cut
        cluster.bind(("127.0.0.1", 0))
        cluster.listen(8)
        c = configure(tmp_path, monkeypatch, **(env := kubernetes_env(tmp_path)))
        c.KubeSpawner.k8s_api_host = f"https://127.0.0.1:{cluster.getsockname()[1]}"
        server = kube_spawner(c, env["APPLIANCE_KUBERNETES_KUBECONFIG"])
        loading = asyncio.ensure_future(server._start_watching_pods())
        await asyncio.sleep(0.3)
        loading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loading
    try:  # the cluster's port is closed now: connections are refused
        for _ in range(2):  # told each time, and asked anew each time
            with pytest.raises(aiohttp.ClientConnectionError):
                await asyncio.wait_for(server._start_watching_pods(), 10)
        # the poll before a stop answers: the pod unknown, so there as far as the hub knows (a stop follows)
        assert await asyncio.wait_for(server.poll(), 10) is None
    finally:
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:  # KubeSpawner's shared API client closes when its keeper task ends
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


async def test_a_kubernetes_hub_asks_for_a_pod_of_the_image_with_the_limits_and_no_token_for_the_cluster(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = kubernetes_env(tmp_path, APPLIANCE_HUBS_MEMORY_LIMIT="1536M", APPLIANCE_HUBS_CPU_LIMIT_CORES="0.5",
                         APPLIANCE_KUBERNETES_NAMESPACE="research", APPLIANCE_PORTAL_PORT="8100")
    c = configure(tmp_path, monkeypatch, **env)
    assert c.JupyterHub.spawner_class == "appliance.hub.kubernetes.ApplianceKubeSpawner"
    assert (c.ApplianceHub.spawner_name, c.ApplianceHub.isolation) == ("kubernetes", "kubernetes")
    assert c.JupyterHub.hub_ip == "10.0.0.5"  # pods reach the hub's API over the network
    pod = await pod_of(c, env["APPLIANCE_KUBERNETES_KUBECONFIG"])

    assert (pod["metadata"]["namespace"], pod["metadata"]["name"]) == ("research", "appliance-hub3-ada")
    assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "appliance"
    assert pod["spec"]["automountServiceAccountToken"] is False  # a member's kernel gets no cluster credentials
    assert pod["spec"]["securityContext"] == {"fsGroup": 1000}
    [container] = pod["spec"]["containers"]
    assert container["image"] == "registry.lab/server:0.1.0"
    assert container["securityContext"] == {"runAsUser": 1000, "runAsGroup": 1000, "allowPrivilegeEscalation": False}
    limits = {"memory": 1536 * 1024**2, "cpu": 0.5}
    assert container["resources"] == {"limits": limits, "requests": limits}
    assert container["args"] == [*c.Spawner.cmd, *c.Spawner.args]  # the appliance's environment, from the image
    pod_env = {variable["name"]: variable.get("value") for variable in container["env"]}
    assert pod_env["APPLIANCE_STORAGE_URL"] == "http://10.0.0.5:8100/api/storage/v1"  # the portal's private address
    assert StorageTokens(c.StorageEnvMixin.storage_token_key, 60).verify(pod_env["APPLIANCE_STORAGE_TOKEN"]) == "ada"
    assert pod_env["JUPYTERHUB_API_URL"].startswith(f"http://10.0.0.5:{c.JupyterHub.hub_port}/hubs/3/")
    assert pod_env["APPLIANCE_STORAGE_MOUNTS"] == ""


async def test_the_documented_kubernetes_configuration_gives_the_pod_it_describes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = (Path(__file__).resolve().parents[3] / "docs" / "kubernetes.md").read_text()
    [documented] = re.findall(r"```toml\n(.*?)```", page, re.DOTALL)
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "appliance.toml").write_text(documented)
    kubeconfig = kubernetes_env(tmp_path)["APPLIANCE_KUBERNETES_KUBECONFIG"]  # for /etc/appliance/kubeconfig
    c = configure(tmp_path, monkeypatch, APPLIANCE_KUBERNETES_KUBECONFIG=kubeconfig)
    pod = await pod_of(c, kubeconfig)
    assert (pod["metadata"]["namespace"], pod["metadata"]["name"]) == ("jupyter", "appliance-hub3-ada")
    [container] = pod["spec"]["containers"]
    assert container["image"] == "registry.lab.example.org/appliance-server:0.1.0"
    assert container["resources"]["requests"] == container["resources"]["limits"] == {"memory": 2 * 1024**3, "cpu": 1}
    assert {"name": "APPLIANCE_STORAGE_URL", "value": "http://10.0.0.5:8000/api/storage/v1"} in container["env"]


@pytest.mark.parametrize(("env", "said", "hint"), [
    ({"APPLIANCE_KUBERNETES_IMAGE": ""}, "kubernetes.image is empty", "docs/kubernetes.md"),
    ({"APPLIANCE_NODES_ADDRESS": ""}, "nodes.address is empty", "Set nodes.address"),
    ({"APPLIANCE_STORAGE_MOUNTS": "shared=/srv/shared"}, "storage.mounts are folders on this machine",
     "Empty storage.mounts"),
    ({"APPLIANCE_KUBERNETES_KUBECONFIG": "/nonexistent/kubeconfig"},
     "kubernetes.kubeconfig /nonexistent/kubeconfig is not a file", "kubectl config view"),
    ({"APPLIANCE_KUBERNETES_KUBECONFIG": ""}, "there is no kubeconfig and the hub does not run inside",
     "Set kubernetes.kubeconfig"),
])
def test_a_kubernetes_hub_that_pods_could_not_work_with_is_refused_before_it_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], said: str, hint: str) -> None:
    monkeypatch.setattr(hubconfig, "DEFAULT_KUBECONFIG", tmp_path / "no-kubeconfig")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError) as error:
        configure(tmp_path, monkeypatch, **kubernetes_env(tmp_path, **env))
    assert f"hubs.spawner = 'kubernetes', but {said}" in str(error.value)
    assert hint in (error.value.hint or "")


class RecordingSpawner:
    """Stands in for batchspawner's and KubeSpawner's start, noting the options it was left with."""

    user = SimpleNamespace(name="mallory")
    log = SimpleNamespace(warning=lambda *args: None, info=lambda *args: None)

    async def start(self) -> dict[str, Any]:
        return dict(self.user_options)  # type: ignore[attr-defined]


async def test_a_members_start_options_never_reach_the_spawner() -> None:

    class Server(ConfigurationOnlyMixin, RecordingSpawner):
        pass

    server = Server()
    server.user_options = {"profile": "gpu", "image": "evil:latest", "req_partition": "admin"}
    assert await server.start() == {}

    class Profiled(ProfileMixin, ConfigurationOnlyMixin, RecordingSpawner):
        pass

    profiled = Profiled(profiles=[standard("1G", 1, 0).to_json()])
    profiled.user = SimpleNamespace(name="mallory", groups=[])
    profiled.user_options = {"profile": "standard", "image": "evil:latest"}
    assert await profiled.start() == {} and profiled.mem_limit == "1G"
