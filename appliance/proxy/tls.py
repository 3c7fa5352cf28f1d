"""The front proxy's certificate: checked when it is set and when the proxy starts, naming what is wrong."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from appliance.errors import ConfigError
from appliance.proxy.settings import ProxySettings
from appliance.supervisor.polling import poll

# what the portal, the hubs and user servers answer over HTTPS: browsers keep to HTTPS for a year
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


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


def file_certificate(cert_file: str) -> bytes:
    """The first certificate in ``cert_file`` (the server's own, before its chain), DER-encoded."""
    return ssl.PEM_cert_to_DER_cert(Path(cert_file).read_text().split("-----END CERTIFICATE-----")[0]
                                    + "-----END CERTIFICATE-----\n")


def served_certificate(host: str, port: int, server_name: str, timeout_s: float = 2.0) -> bytes | None:
    """The certificate the server at host:port presents for ``server_name``, DER-encoded (not verified: only
    compared); None when nothing answers TLS there."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=server_name) as tls:
            return tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None


def comes_to_serve(cert_file: str, host: str, port: int, server_name: str, timeout_s: float) -> bool:
    """Whether the server listening on host:port presents ``cert_file``'s certificate within ``timeout_s``."""
    wanted = file_certificate(cert_file)
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # listening on every address: loopback is one
    served = poll(lambda: served_certificate(reachable, port, server_name), lambda answer: answer == wanted, timeout_s)
    return served == wanted


def certificate_names(cert_file: str) -> set[str]:
    """The DNS names the first certificate in ``cert_file`` is valid for (its subjectAltName)."""
    from cryptography import x509  # only when a certificate is checked

    certificate = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {name.lower() for name in names.get_values_for_type(x509.DNSName)}


def covered(host: str, names: set[str]) -> bool:
    """Whether a certificate naming ``names`` covers ``host`` (itself, or by the wildcard of its parent)."""
    return host in names or (not host.startswith("*.") and f"*.{host.partition('.')[2]}" in names)


def check_certificate_names(settings: ProxySettings, needed: list[str]) -> None:
    """Fail, naming what is missing, unless proxy.tls_cert covers every host name in ``needed`` (a
    "*.hub.lab.example.org" there asks for that wildcard itself: it covers every member's host)."""
    names = certificate_names(settings.tls_cert)
    missing = [host for host in needed if not covered(host.lower(), names)]
    if missing:
        raise ConfigError(
            f"the certificate {settings.tls_cert} does not name {', '.join(missing)} (it names "
            f"{', '.join(sorted(names)) or 'no host at all'}).",
            hint="Get one that names them all, e.g. certbot certonly --manual --preferred-challenges dns "
                 + " ".join(f"-d {host}" for host in needed) + " (a wildcard needs the DNS challenge).")
