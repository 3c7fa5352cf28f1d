"""The effective configuration: one optional TOML file plus environment, on embedded defaults.

Precedence, highest first: command-line options, then ``APPLIANCE_<SECTION>_<KEY>`` environment
variables, then the TOML file, then the defaults declared in each component's settings.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import tomlkit

from appliance.audit.settings import AuditSettings
from appliance.discovery.settings import DiscoverySettings
from appliance.errors import ConfigError
from appliance.gallery.settings import GallerySettings
from appliance.home import SYSTEM_HOME, Home, default_home
from appliance.hub.addresses import Addresses
from appliance.hub.settings import HubSettings, KubernetesSettings, SlurmSettings
from appliance.identity.settings import IdentitySettings
from appliance.knobs import KnobInfo, describe
from appliance.nodes import NodesSettings
from appliance.portal.settings import PortalSettings
from appliance.postgres import PostgresSettings
from appliance.proxy import ProxySettings, check_certificate_names, check_tls_files
from appliance.storage.settings import StorageSettings
from appliance.supervisor.settings import SupervisorSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Ubuntu 22.04 ships Python 3.10
    import tomli as tomllib

SECTIONS: dict[str, type] = {
    "portal": PortalSettings,
    "identity": IdentitySettings,
    "storage": StorageSettings,
    "discovery": DiscoverySettings,
    "gallery": GallerySettings,
    "audit": AuditSettings,
    "hubs": HubSettings,
    "slurm": SlurmSettings,
    "kubernetes": KubernetesSettings,
    "nodes": NodesSettings,
    "proxy": ProxySettings,
    "postgres": PostgresSettings,
    "supervisor": SupervisorSettings,
}
CONFIG_FILE_NAME = "appliance.toml"
FILE_MODE = 0o600  # the configuration file is the appliance's alone
SYSTEM_CONFIG = Path("/etc/appliance/appliance.toml")  # the installed service's (the installer writes it)
MASK = "********"  # a secret knob's value, shown
_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


@dataclass(frozen=True)
class Config:
    home: Home
    file: Path | None
    portal: PortalSettings
    identity: IdentitySettings
    storage: StorageSettings
    discovery: DiscoverySettings
    gallery: GallerySettings
    audit: AuditSettings
    hubs: HubSettings
    slurm: SlurmSettings
    kubernetes: KubernetesSettings
    nodes: NodesSettings
    proxy: ProxySettings
    postgres: PostgresSettings
    supervisor: SupervisorSettings
    # "section.key" -> where the effective value came from: default, file, env NAME or option
    sources: Mapping[str, str]

    def value(self, info: KnobInfo) -> Any:
        return getattr(getattr(self, info.section), info.name)

    def shown_knobs(self) -> list[dict[str, Any]]:
        """Every knob's effective value and where it came from, a secret knob's value masked (as `appliance
        config show` masks it)."""
        return [{"section": info.section, "key": info.name, "secret": info.secret,
                 "value": MASK if info.secret and self.value(info) else self.value(info),
                 "source": self.sources[f"{info.section}.{info.name}"]} for info in all_knobs()]

    def secret_values(self) -> list[str]:
        """The values of the secret knobs that are set."""
        return [str(self.value(info)) for info in all_knobs() if info.secret and self.value(info)]

    @cached_property
    def addresses(self) -> Addresses:
        portal, hubs, proxy, nodes = self.portal, self.hubs, self.proxy, self.nodes
        return Addresses(portal_public_url=portal.public_url, portal_host=portal.host, portal_port=portal.port,
                         hubs_public_url=hubs.public_url, hub_count=hubs.count, hubs_first_port=hubs.first_port,
                         proxy_host=proxy.host, proxy_port=proxy.port, proxy_api_port=proxy.api_port,
                         proxy_tls=bool(proxy.tls_cert), first_hub=nodes.first_hub or 1, portal_url=nodes.portal_url,
                         node_address=nodes.address)


def all_knobs() -> list[KnobInfo]:
    return [info for section, cls in SECTIONS.items() for info in describe(section, cls)]


def load_config(
    home: Path | None = None,
    file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read the configuration for ``home`` (default: $APPLIANCE_HOME or the per-user default).

    ``file`` must exist if given; otherwise ``<home>/appliance.toml`` is read when present, and for the
    installed service's home (/var/lib/appliance) /etc/appliance/appliance.toml.
    ``overrides`` maps ``"section.key"`` to values given on the command line.
    """
    environ = os.environ if environ is None else environ
    home_path = home or Path(environ.get("APPLIANCE_HOME") or default_home())
    if file is None and environ.get("APPLIANCE_CONFIG"):
        file = Path(environ["APPLIANCE_CONFIG"])
    if file is None and (home_path / CONFIG_FILE_NAME).is_file():
        file = home_path / CONFIG_FILE_NAME
    elif file is None and home_path == SYSTEM_HOME and SYSTEM_CONFIG.is_file():
        file = SYSTEM_CONFIG
    elif file is not None and not file.is_file():
        raise ConfigError(f"config file {file} does not exist; create it or drop --config/APPLIANCE_CONFIG.")

    from_file = _read_file(file) if file else {}
    values: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    sources: dict[str, str] = {}
    for info in all_knobs():
        key = f"{info.section}.{info.name}"
        sources[key] = "default"
        if info.name in from_file.get(info.section, {}):
            raw = from_file[info.section][info.name]
            values[info.section][info.name] = _check_file_value(info, raw, file)  # type: ignore[arg-type]
            sources[key] = "file"
        if info.env_var in environ:
            values[info.section][info.name] = _parse_text(info, environ[info.env_var],
                                                          f"environment variable {info.env_var}")
            sources[key] = f"env {info.env_var}"
        if overrides and key in overrides:
            values[info.section][info.name] = overrides[key]
            sources[key] = "option"
    sections = {name: cls(**values[name]) for name, cls in SECTIONS.items()}
    return Config(home=Home(home_path.absolute()), file=file, sources=sources, **sections)


def set_values(file: Path, assignments: Mapping[str, str]) -> None:
    """Set ``"section.key"`` to values given as text (read as their knob's type, like environment
    variables) in ``file``, made if missing. Comments and layout stay; the file is replaced only if the
    whole of it then loads, so that keys that go together (proxy.tls_cert, tls_key) are set at once."""
    knobs = {f"{info.section}.{info.name}": info for info in all_knobs()}
    text = file.read_text(encoding="utf-8") if file.is_file() else ""
    for key, raw in assignments.items():
        if key not in knobs:
            raise ConfigError(f"unknown key {key}; `appliance config show` lists every key.")
        info = knobs[key]
        value = _parse_text(info, raw, key)
        document = tomlkit.parse(text)
        table = document.setdefault(info.section, tomlkit.table())
        line = _line_of(text, info.section, info.name, commented=True)
        if info.name not in table and isinstance(line, int):  # in place of its commented-out default
            lines = text.splitlines(keepends=True)
            lines[line - 1] = f"{info.name} = {tomlkit.item(value).as_string()}\n"
            text = "".join(lines)
        else:
            table[info.name] = value
            text = tomlkit.dumps(document)
    candidate = file.with_name(f".{file.name}.new")
    mode = file.stat().st_mode & FILE_MODE if file.is_file() else FILE_MODE  # never wider than 0600
    candidate.unlink(missing_ok=True)
    with os.fdopen(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w", encoding="utf-8") as handle:
        handle.write(text)
    try:
        loaded = load_config(home=Path("/nonexistent"), file=candidate, environ={})
        if loaded.proxy.tls_cert and any(key.startswith("proxy.tls_") for key in assignments):
            check_tls_files(loaded.proxy)  # a certificate is checked when it is set, not at the next start
            check_certificate_names(loaded.proxy, loaded.addresses.certificate_hosts)
    except ConfigError as error:
        candidate.unlink()
        raise ConfigError(f"{file} was left as it was: {error}", hint=error.hint) from None
    candidate.chmod(mode)
    candidate.replace(file)


def tighten_file_mode(file: Path) -> bool:
    """Take group and others' access off a configuration file of this user's (it can hold secrets, and
    under root members' servers run as other users). True if the mode changed."""
    st = file.stat()
    if st.st_uid != os.geteuid() or not st.st_mode & 0o077:
        return False
    file.chmod(st.st_mode & FILE_MODE)
    return True


def _read_file(file: Path) -> dict[str, dict[str, Any]]:
    text = file.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {file} is not valid TOML: {exc}.",
            hint="Fix that line (see `appliance config show --defaults` for every key), or move the file away.",
        ) from None
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"config file {file}, line {_line_of(text, None, section)}: `{section}` is outside any section; "
                f"every key belongs under one of {', '.join('[' + s + ']' for s in SECTIONS)}."
            )
        if section not in SECTIONS:
            raise ConfigError(
                f"config file {file}, line {_line_of(text, None, section)}: unknown section [{section}]; "
                f"expected one of {', '.join('[' + s + ']' for s in SECTIONS)}."
            )
        known = [f.name for f in dataclasses.fields(SECTIONS[section])]
        for key in table:
            if key not in known:
                raise ConfigError(
                    f"config file {file}, line {_line_of(text, section, key)}: unknown key "
                    f"{section}.{key}; [{section}] takes {', '.join(known)}."
                )
    return data


def _check_file_value(info: KnobInfo, raw: Any, file: Path) -> Any:
    if info.type is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, info.type) and not (info.type is int and isinstance(raw, bool)):
        return raw
    line = _line_of(file.read_text(encoding="utf-8"), info.section, info.name)
    raise ConfigError(
        f"config file {file}, line {line}: {info.section}.{info.name} = {raw!r} is not "
        f"{_TYPE_WORDS[info.type]}; expected e.g. {info.name} = {_toml_literal(info.default)}."
    )


def _parse_text(info: KnobInfo, raw: str, given_as: str) -> Any:
    """A value given as text (``given_as`` says where, for the error) read as its knob's type."""
    try:
        if info.type is bool:
            lowered = raw.strip().lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(raw)
            return lowered in {"1", "true", "yes", "on"}
        return info.type(raw)
    except ValueError:
        raise ConfigError(
            f"{given_as}={raw!r} is not {_TYPE_WORDS[info.type]} (default {_toml_literal(info.default)})."
        ) from None


def _line_of(text: str, section: str | None, key: str, commented: bool = False) -> int | str:
    """Best-effort line number of ``key`` inside ``[section]`` (or of the section header); with
    ``commented``, of the key commented out (``#key = …``, as in the defaults file)."""
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"\s*\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1)
            if section is None and current == key:
                return number
        elif current == section and re.match(rf"\s*{'#' if commented else ''}{re.escape(key)}\s*=", line):
            return number
    return "?"


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def render_effective(config: Config) -> str:
    """The effective configuration as TOML, with the source of each value and secrets masked."""
    lines = [f"# home: {config.home.root}", f"# file: {config.file or '(none: embedded defaults)'}"]
    for section, cls in SECTIONS.items():
        lines.append(f"\n[{section}]")
        for info in describe(section, cls):
            value = config.value(info)
            shown = f'"{MASK}"' if info.secret and value else _toml_literal(value)
            lines.append(f"{info.name} = {shown}  # {config.sources[f'{section}.{info.name}']}")
    return "\n".join(lines) + "\n"


def render_defaults() -> str:
    """A commented TOML file with every knob at its default, built from the help texts."""
    lines = [
        "# appliance configuration. Save as $APPLIANCE_HOME/appliance.toml; every key is optional.",
        "# Environment variables APPLIANCE_<SECTION>_<KEY> override this file.",
    ]
    for section, cls in SECTIONS.items():
        lines += ["", f"# {(cls.__doc__ or '').strip()}", f"[{section}]"]
        for info in describe(section, cls):
            lines += [f"# {line}" for line in _wrap(info.help)]
            lines.append(f"#{info.name} = {_toml_literal(info.default)}")
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int = 98) -> list[str]:
    return textwrap.wrap(text, width=width)
