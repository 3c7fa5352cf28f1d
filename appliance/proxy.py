"""The front proxy: configurable-http-proxy on the hub origin, with its API on loopback.

Until hubs register routes, every request gets the "no hub yet" page from webui/proxy-errors
(served by the proxy itself for its 404, so nothing of the portal is exposed on the hub origin).
"""

from __future__ import annotations

import shutil
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from appliance.errors import ApplianceError, ConfigError
from appliance.knobs import knob
from appliance.supervisor.checks import kept_client
from appliance.supervisor.spec import Check, CheckFailed, ChildSpec, Port
from appliance.webui import PROXY_ERROR_PAGES

CHP = "configurable-http-proxy"
INSTALL_HINT = (
    f"Run installer/install.sh, or install it next to appliance with `npm install --prefix {sys.prefix} "
    f"{CHP}@5` (Node.js 20+; use @4.6 on Node.js 18), or set proxy.command."
)


@dataclass(frozen=True)
class ProxySettings:
    """[proxy] The front proxy on the hub origin (configurable-http-proxy)."""

    host: str = knob(
        "127.0.0.1",
        "Address the hub origin listens on. 0.0.0.0 serves every interface (`appliance up --public`).",
    )
    port: int = knob(8001, "TCP port of the hub origin (hubs and user servers are reached through it). When the "
                           "portal and the hubs have host names of their own (portal.public_url, hubs.public_url), "
                           "the proxy serves both on this port, telling them apart by host name.")
    api_port: int = knob(8002, "Loopback TCP port of the proxy's REST API (protected by a generated token).")
    command: str = knob(
        "",
        f"Path of the {CHP} executable. Empty looks in <venv>/node_modules/.bin, then PATH.",
    )
    tls_cert: str = knob(
        "", "PEM file with the TLS certificate chain for proxy.port, e.g. "
            "/etc/letsencrypt/live/lab.example.org/fullchain.pem; it must name both host names. Set with "
            "tls_key; the proxy then speaks only HTTPS. Read when the proxy starts: after a renewal, "
            "`appliance restart proxy`.")
    tls_key: str = knob("", "PEM file with the private key of tls_cert.")
    http_redirect_port: int = knob(
        0, "TCP port (80 in a lab) on which plain HTTP is answered with a redirect to HTTPS on proxy.port, on "
           "every interface. Needs tls_cert. 0 turns it off.")

    def __post_init__(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("proxy.tls_cert and proxy.tls_key go together: set both, or neither for plain HTTP.")
        if self.http_redirect_port and not self.tls_cert:
            raise ConfigError(f"proxy.http_redirect_port = {self.http_redirect_port} redirects to HTTPS, which "
                              "needs proxy.tls_cert and proxy.tls_key.", hint="Set them, or set the port to 0.")


TOKEN_SECRET = "proxy-token"  # the proxy's REST API token, shared by the supervisor, the hubs and the portal
# what the portal, the hubs and user servers answer over HTTPS: browsers keep to HTTPS for a year
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


class ProxyNotFound(ApplianceError):
    """configurable-http-proxy or Node.js is missing."""


def find_proxy_command(settings: ProxySettings) -> Path:
    if settings.command:
        path = Path(settings.command)
        if not path.is_file():
            raise ProxyNotFound(f"proxy.command = {settings.command} does not exist.", hint=INSTALL_HINT)
        return path
    bundled = Path(sys.prefix) / "node_modules" / ".bin" / CHP
    if bundled.is_file():
        return bundled
    on_path = shutil.which(CHP)
    if on_path:
        return Path(on_path)
    raise ProxyNotFound(f"{CHP} (the front proxy) was not found.", hint=INSTALL_HINT)


def check_node() -> None:
    if shutil.which("node") is None:
        raise ProxyNotFound("Node.js (`node`) was not found; the front proxy needs it.",
                            hint="Install it with `apt-get install nodejs`.")


def check_tls_files(settings: ProxySettings) -> None:
    """Fail now, naming the file, rather than leave the proxy restarting on a certificate it cannot load."""
    for knob_name, path in (("tls_cert", settings.tls_cert), ("tls_key", settings.tls_key)):
        if not Path(path).is_file():
            raise ConfigError(f"proxy.{knob_name} = {path} does not exist.",
                              hint="Give the path of a PEM file (e.g. certbot's fullchain.pem and privkey.pem).")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(settings.tls_cert, settings.tls_key)
    except (ssl.SSLError, OSError) as error:
        raise ConfigError(f"the certificate {settings.tls_cert} and key {settings.tls_key} cannot be used together "
                          f"({error.strerror or error}).",
                          hint="Both must be PEM files, the key that of the certificate's first entry.") from None


def certificate_names(cert_file: str) -> set[str]:
    """The DNS names the first certificate in ``cert_file`` is valid for (its subjectAltName)."""
    from cryptography import x509  # only when a certificate is checked

    certificate = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {name.lower() for name in names.get_values_for_type(x509.DNSName)}


def check_certificate_names(settings: ProxySettings, needed: list[str]) -> None:
    """Fail, naming what is missing, unless proxy.tls_cert covers every host name in ``needed`` (a
    "*.hub.lab.example.org" there asks for that wildcard itself: it covers every member's host)."""
    names = certificate_names(settings.tls_cert)

    def covered(host: str) -> bool:
        return host in names or (not host.startswith("*.") and f"*.{host.partition('.')[2]}" in names)

    missing = [host for host in needed if not covered(host.lower())]
    if missing:
        raise ConfigError(
            f"the certificate {settings.tls_cert} does not name {', '.join(missing)} (it names "
            f"{', '.join(sorted(names)) or 'no host at all'}).",
            hint="Get one that names them all, e.g. certbot certonly --manual --preferred-challenges dns "
                 + " ".join(f"-d {host}" for host in needed) + " (a wildcard needs the DNS challenge).")


def keeping_routes(api: str, token: str, routes: Sequence[tuple[str, str]]) -> Check:
    """Pass when the proxy's API answers and has every route in ``routes`` (spec, target), which this check
    adds when one is missing: a started or restarted proxy knows no routes, and the portal's host names
    must answer as soon as the proxy does."""
    client = kept_client(timeout=2.0, headers={"Authorization": f"token {token}"})

    async def check() -> None:
        try:
            known = (await client().get(f"{api}/api/routes")).raise_for_status().json()
            for spec, target in routes:
                if spec not in known:
                    (await client().post(f"{api}/api/routes{spec}", json={"target": target})).raise_for_status()
        except httpx.HTTPError as exc:
            raise CheckFailed(f"the front proxy's API at {api}: {type(exc).__name__} {exc}".strip()) from None

    return check


def proxy_spec(settings: ProxySettings, token: str, portal_routes: Sequence[tuple[str, str]] = ()) -> ChildSpec:
    """The front proxy. With ``portal_routes`` (the portal's host names, as routes, and its loopback address)
    the proxy routes by host name: the first segment of every route is a host (see
    hub.addresses.route_prefix), and the proxy serves the portal's host names too, routes its checks keep."""
    api = f"http://127.0.0.1:{settings.api_port}"
    argv = [str(find_proxy_command(settings)), "--ip", settings.host, "--port", str(settings.port),
            "--api-ip", "127.0.0.1", "--api-port", str(settings.api_port),
            "--error-path", str(PROXY_ERROR_PAGES), "--log-level", "info"]
    ports = [Port(settings.host, settings.port, "proxy.port"), Port("127.0.0.1", settings.api_port, "proxy.api_port")]
    if portal_routes:
        argv.append("--host-routing")
    if settings.tls_cert:
        check_tls_files(settings)
        argv += ["--ssl-cert", settings.tls_cert, "--ssl-key", settings.tls_key]
    if settings.http_redirect_port:
        argv += ["--redirect-port", str(settings.http_redirect_port), "--redirect-to", str(settings.port)]
        ports.append(Port("0.0.0.0", settings.http_redirect_port, "proxy.http_redirect_port"))
    return ChildSpec(
        name="proxy",
        description="front proxy",
        argv=argv,
        env={"CONFIGPROXY_AUTH_TOKEN": token},
        ready=keeping_routes(api, token, portal_routes),
        health=keeping_routes(api, token, portal_routes),
        address=f"{settings.host}:{settings.port} (api 127.0.0.1:{settings.api_port})",
        ports=tuple(ports),
    )
