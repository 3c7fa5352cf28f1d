"""hubs.spawner = "kubernetes": each member's JupyterLab runs as a pod in the lab's cluster, through KubeSpawner.

The pod runs the image named by kubernetes.image, which holds the appliance at the same path as on the hub's
machine (the server's command and arguments name files there). Notebooks need no volume: the server reaches
the storage API over the network with the same scoped token as any other, at the portal machine's private
address, and the hub's API at this machine's (nodes.address). The hub's proxy reaches the pod at its IP, so
the pods' network must be routed from the hubs' machines (docs/kubernetes.md).

What the pod may do is narrowed here: no token for the cluster's API in it (a member's kernel could otherwise
act with the namespace's default service account), no privilege escalation, a non-root user, and the member's
start options ignored (KubeSpawner would apply a profile they name).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from kubernetes_asyncio.client import Configuration
from kubernetes_asyncio.client.exceptions import ApiException
from kubespawner import KubeSpawner
from traitlets import default

from appliance.hub.app import ConfigurationOnlyMixin, ProfileMixin, StorageEnvMixin

# what an administrator does about the cluster's refusals, by HTTP status
CLUSTER_FIXES = {401: "the hubs' credentials in kubernetes.kubeconfig are not accepted.",
                 403: "the hubs' credentials may not manage pods there (docs/kubernetes.md has their Role).",
                 404: "kubernetes.namespace must exist."}
UNREACHABLE_STOP_S = 5.0  # how long the stop after a start the cluster did not answer may try to delete its pod
SERVER_UID = 1000  # the image's member user (docs/kubernetes.md); never root


def _loaded(first_load: asyncio.Future[None]) -> bool:
    return first_load.done() and not first_load.cancelled() and first_load.exception() is None


class ApplianceKubeSpawner(ProfileMixin, ConfigurationOnlyMixin, StorageEnvMixin, KubeSpawner):  # type: ignore[misc]
    """A member's server as a pod, with the hubs' limits as its request and limit (hubs.memory_limit,
    hubs.cpu_limit_cores): a member gets what they are promised, and a node never holds more servers than its
    memory. hub_config names the pods after their hub, so that two hubs never act on one pod."""

    @default("uid")
    def _default_uid(self) -> int:
        return SERVER_UID

    @default("gid")
    def _default_gid(self) -> int:
        return SERVER_UID

    @default("fs_gid")
    def _default_fs_gid(self) -> int:
        return SERVER_UID

    @default("automount_service_account_token")
    def _default_automount(self) -> bool:
        return False

    @default("mem_guarantee")
    def _default_mem_guarantee(self) -> Any:
        return self.mem_limit

    cluster_unreachable = False  # the last start could not reach the cluster's API

    @default("cpu_guarantee")
    def _default_cpu_guarantee(self) -> Any:
        return self.cpu_limit

    def limits_changed(self) -> None:
        self.mem_guarantee, self.cpu_guarantee = self.mem_limit, self.cpu_limit

    @default("extra_labels")
    def _default_extra_labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/part-of": "appliance"}  # KubeSpawner says it manages them

    async def _start_reflector(self, kind: str, reflector_class: type, replace: bool = False,
                               **kwargs: Any) -> Any:
        """KubeSpawner's shared watch of the cluster's pods (or events), forgotten when its first load does not
        finish. KubeSpawner keeps it registered either way, and its start cancels the pods' watch still loading
        when the events' one fails (the cluster not answering): that first load then never ends, and every
        later poll, start and stop on this hub awaited it for ever (a member's server "stopping" for good, the
        Research page silent). Forgotten, whoever waits on it is told, and the next call asks the cluster anew."""
        key = self._get_reflector_key(kind)
        before = KubeSpawner.reflectors.get(key)
        try:
            return await super()._start_reflector(kind, reflector_class, replace=replace, **kwargs)
        except BaseException:
            made = KubeSpawner.reflectors.get(key)
            if made is not None and made is not before and not _loaded(made.first_load_future):
                del KubeSpawner.reflectors[key]
                first_load = made.first_load_future
                if not first_load.done():
                    first_load.set_exception(RuntimeError(f"the cluster's {kind} could not be listed"))
                if not first_load.cancelled():
                    first_load.exception()  # retrieved: no "never retrieved" noise about the forgotten one
            raise

    async def poll(self) -> int | None:
        """KubeSpawner's poll; with the cluster's API not answering, the pod is unknown, so still there as far as
        the hub knows (None): an API server down stops no pod, and a stop that follows tries its deletion."""
        try:
            status: int | None = await super().poll()
        except aiohttp.ClientConnectionError as error:
            self.log.warning("%s's pod %s: the cluster did not answer (%s)", self.user.name, self.pod_name, error)
            return None
        return status

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        """KubeSpawner's progress (the pod's events), ending quietly when the cluster cannot be read: its
        generator failing would cut JupyterHub's progress stream before the start's outcome, and the member
        would never be told why their server did not start."""
        try:
            async for event in super().progress():
                yield event
        except (aiohttp.ClientError, ApiException, asyncio.TimeoutError) as error:
            self.log.warning("no start progress for %s from the cluster: %s", self.user.name, error)

    async def start(self) -> Any:
        """KubeSpawner's start, its failures told to the member (the Research page shows them) with their cause
        and who can fix it."""
        self.cluster_unreachable = False
        try:
            return await super().start()
        except aiohttp.ClientConnectionError as error:
            self.cluster_unreachable = True
            raise RuntimeError(f"The lab's Kubernetes cluster did not answer at {Configuration.get_default().host} "
                               f"({error}). Tell the lab's administrator: the hubs reach it with "
                               "kubernetes.kubeconfig.") from error
        except ApiException as error:
            raise RuntimeError(f"The lab's Kubernetes cluster refused the server's pod in namespace {self.namespace}"
                               f" ({error.status} {error.reason}). Tell the lab's administrator: "
                               f"{CLUSTER_FIXES.get(error.status, 'the cluster says why in its events.')}") from error

    async def stop(self, now: bool = False) -> Any:
        """KubeSpawner's stop; after a start the cluster did not answer, bounded: JupyterHub stops a failed start
        before it reports the failure, and KubeSpawner would retry the pod's deletion for
        k8s_api_request_retry_timeout (30 s) while the member's Research page heard nothing."""
        if not self.cluster_unreachable:
            return await super().stop(now)
        self.cluster_unreachable = False
        try:
            async with asyncio.timeout(UNREACHABLE_STOP_S):
                return await super().stop(now)
        except (TimeoutError, aiohttp.ClientError) as error:
            self.log.warning("%s's pod %s could not be deleted: the cluster did not answer (%s); delete it by hand "
                             "if it exists", self.user.name, self.pod_name, error or type(error).__name__)
            return None
