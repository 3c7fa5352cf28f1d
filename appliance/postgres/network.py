"""The embedded cluster served to hub nodes on the lab's private network: TLS with a certificate of its own for
this machine's address (self-signed, handed to each node as the CA that verifies it), password logins over TLS
only, and never the superuser's from another machine."""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CERTIFICATE_DAYS = 3650  # the nodes hold this very certificate as their CA: a new one means joining them again
# initdb's rules for this machine, then TLS-only password logins from the network, the superuser's refused
HBA = """local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
host all {superuser} all reject
hostssl all all all scram-sha-256
"""


def served_files(folder: Path, address: str, superuser: str, owner: tuple[int, int] | None) -> dict[str, Path]:
    """The certificate, key and host rules for serving ``address`` (made, or made again when the address changed),
    owned by the cluster's system user: {"cert": …, "key": …, "hba": …}."""
    files = {"cert": folder / "network.crt", "key": folder / "network.key", "hba": folder / "network_hba.conf"}
    if not files["cert"].is_file() or address not in certificate_addresses(files["cert"].read_bytes()):
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"appliance database {address}")])
        certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                       .serial_number(x509.random_serial_number())
                       .not_valid_before(now - datetime.timedelta(minutes=5))
                       .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
                       .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                       .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
                                      critical=False)
                       .sign(key, hashes.SHA256()))
        _write(files["key"], key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()), owner)
        _write(files["cert"], certificate.public_bytes(serialization.Encoding.PEM), owner)
    _write(files["hba"], HBA.format(superuser=superuser).encode(), owner)
    return files


def certificate_addresses(pem: bytes) -> list[str]:
    certificate = x509.load_pem_x509_certificate(pem)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(address) for address in names.get_values_for_type(x509.IPAddress)]


def _write(path: Path, content: bytes, owner: tuple[int, int] | None) -> None:
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    if owner is not None:
        os.chown(path, *owner)
