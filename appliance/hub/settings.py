"""[hubs]: the JupyterHub instances members do their research on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from appliance.errors import ConfigError
from appliance.hub.profiles import Profile, parse_profiles, standard
from appliance.knobs import knob

SPAWNERS = ("auto", "local", "systemd", "slurm", "kubernetes")
MEMORY = re.compile(r"[0-9]+(\.[0-9]+)?[KMGT]")  # JupyterHub's ByteSpecification, with a unit
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")  # a Kubernetes namespace
TIME_LIMIT = re.compile(r"[0-9]+|([0-9]+-)?[0-9]+:[0-9]{2}(:[0-9]{2})?")  # sbatch --time's forms, most of them


@dataclass(frozen=True)
class HubSettings:
    """[hubs] The hubs: how many, where they listen, how they start user servers."""

    count: int = knob(
        2, "How many hubs run. Members are spread over them and moved to a live one when theirs dies. "
           "0 runs none (the portal alone).")
    first_port: int = knob(
        8010, "Loopback TCP port of hub 1's own API; hub N uses first_port + N - 1. Members reach the hubs "
              "through the front proxy, never on these ports.")
    public_url: str = knob(
        "", "The hub origin as members' browsers reach it, e.g. https://hub.lab.example.org. Empty means the "
            "portal's address with the front proxy's port (fine for trying out; a lab uses its own host name).")
    spawner: str = knob(
        "auto", "How hubs start user servers: 'systemd' (a transient unit per server, with limits; needs "
                "systemd as PID 1 and the appliance running as root), 'local' (a process per server, as the "
                "member's own system user when run as root; no isolation), 'slurm' (a Slurm job per server, as "
                "the member's own system user: see [slurm]), 'kubernetes' (a pod per server in the lab's cluster: see "
                "[kubernetes]), or 'auto' (systemd when it can).")
    idle_timeout_s: int = knob(
        3600, "Seconds a member's server may sit idle (no activity from their browser or kernels) before the "
              "hub's idle culler stops it; their notebooks are safe in the storage, and their next visit starts "
              "a new server. Checked every half of this, at most every 60 s. 0 turns culling off. Takes effect "
              "when the hubs restart.")
    memory_limit: str = knob(
        "2G", "Memory each member's server may use, with its kernels: a number with K, M, G or T (powers of "
              "1024), e.g. 512M or 2G. Empty means no limit. Enforced by the systemd spawner and by Kubernetes (the "
              "pod's request and limit), asked of Slurm as the job's memory (the local spawner limits nothing); "
              "takes effect for servers "
              "started after the hubs restart.")
    cpu_limit_cores: float = knob(
        1.0, "CPUs each member's server may use, with its kernels, e.g. 0.5 or 2. 0 means no limit. Enforced "
             "by the systemd spawner and by Kubernetes (the pod's request and limit), asked of Slurm (rounded "
             "up) by the slurm spawner (the local one limits nothing); takes effect for servers started after "
             "the hubs restart.")

    profiles: str = knob(
        "", "Server profiles members choose on the Research page before their server starts, besides 'standard' (the "
            "limits above, for everyone): one per line, or ';' between them, as NAME: key=value… with memory, cpus, "
            "groups (who may choose it, by group; none: everyone), environment (the shared environment new "
            "notebooks default to, `appliance env`), idle_timeout_s and description, e.g. big: memory=16G cpus=4 "
            "groups=big description=\"Large jobs\". Enforced by the systemd spawner (MemoryMax, CPUQuota) and by "
            "Kubernetes; asked of Slurm; the local spawner only tells the server its size.")

    def server_profiles(self) -> list[Profile]:
        """``standard`` (the limits above), then hubs.profiles."""
        return parse_profiles(self.profiles, standard(self.memory_limit, self.cpu_limit_cores, self.idle_timeout_s))

    def __post_init__(self) -> None:
        self.server_profiles()  # a mistake is refused when the configuration is read
        if not 0 <= self.count <= 64:
            raise ConfigError(f"hubs.count = {self.count}: must be between 0 and 64.")
        if self.spawner not in SPAWNERS:
            raise ConfigError(f"hubs.spawner = {self.spawner!r}: must be one of {', '.join(SPAWNERS)}.")
        if self.idle_timeout_s < 0:
            raise ConfigError(f"hubs.idle_timeout_s = {self.idle_timeout_s}: must be 0 (no culling) or more "
                              "seconds, e.g. 3600.")
        if self.memory_limit and not MEMORY.fullmatch(self.memory_limit):
            raise ConfigError(f"hubs.memory_limit = {self.memory_limit!r}: must be a number with K, M, G or T "
                              "(e.g. 512M or 2G), or empty for no limit.")
        if not self.cpu_limit_cores >= 0:  # also refuses NaN
            raise ConfigError(f"hubs.cpu_limit_cores = {self.cpu_limit_cores}: must be 0 (no limit) or a "
                              "positive number of CPUs, e.g. 1 or 0.5.")


# Each job runs as the member's system user (jupyter-<name>), which every compute node must know by the same uid,
# from the appliance's environment at the same path on the node; hubs.memory_limit and hubs.cpu_limit_cores are
# the job's request (hub/slurm.py).
@dataclass(frozen=True)
class SlurmSettings:
    """[slurm] Members' servers as jobs on the lab's Slurm cluster (hubs.spawner = "slurm")."""

    partition: str = knob("", "Partition members' jobs are submitted to. Empty uses the cluster's default.")
    time_limit: str = knob(
        "", "Time limit of each member's job, as Slurm writes it (e.g. 8:00:00 or 1-00:00:00); the job ends, and "
            "the member's server with it, when it runs out. Empty uses the partition's default.")
    job_ip: str = knob(
        "0.0.0.0", "Address members' servers listen on inside their jobs: 0.0.0.0 where the hub reaches compute "
                   "nodes over the network; 127.0.0.1 where Slurm runs the jobs on the hub's own machine.")

    def __post_init__(self) -> None:
        import ipaddress

        try:
            ipaddress.ip_address(self.job_ip)
        except ValueError:
            raise ConfigError(f"slurm.job_ip = {self.job_ip!r}: must be an IP address, e.g. 0.0.0.0 or "
                              "127.0.0.1.") from None
        if self.time_limit and not TIME_LIMIT.fullmatch(self.time_limit):
            raise ConfigError(f"slurm.time_limit = {self.time_limit!r}: must be minutes, or [days-]hours:minutes"
                              "[:seconds] as Slurm writes it, e.g. 8:00:00, or empty.")


# The pod runs the appliance's environment from the image, at the same path as on the hub's machine; it reaches the
# hub's API and the storage API at the machine's private address (nodes.address), and the hub's proxy reaches the
# pod at its IP (hub/kubernetes.py, docs/kubernetes.md).
@dataclass(frozen=True)
class KubernetesSettings:
    """[kubernetes] Members' servers as pods in the lab's Kubernetes cluster (hubs.spawner = "kubernetes")."""

    namespace: str = knob("jupyter", "Namespace members' pods run in; it must exist, and the hub's credentials "
                                     "must be allowed to manage pods there.")
    image: str = knob(
        "", "Image members' servers run: the appliance installed at the same path as on the hubs' machine, of the "
            "same version (docs/kubernetes.md builds one). Required with hubs.spawner = 'kubernetes'.")
    kubeconfig: str = knob(
        "", "The kubeconfig file hubs reach the cluster's API with (its current context). Empty means the hub's "
            "own service account inside the cluster, else /root/.kube/config.")

    def __post_init__(self) -> None:
        if not DNS_LABEL.fullmatch(self.namespace):
            raise ConfigError(f"kubernetes.namespace = {self.namespace!r}: must be a Kubernetes name: lower-case "
                              "letters, digits and '-', at most 63, e.g. jupyter.")
        if self.image != self.image.strip() or " " in self.image:
            raise ConfigError(f"kubernetes.image = {self.image!r}: must be an image reference without spaces, "
                              "e.g. registry.lab.example.org/appliance-server:0.1.0.")
