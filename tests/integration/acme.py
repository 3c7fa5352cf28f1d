"""A certificate authority and a DNS server for lab.test on a fresh machine, both Debian's own: pebble (the
ACME server Let's Encrypt tests with) and bind9, which takes the DNS challenge's records as RFC 2136 updates
signed with a TSIG key, as a lab's own DNS server would for certbot's rfc2136 plugin. Both listen on free
loopback ports (the machine shares this one's network) and run as transient units of the machine's systemd."""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.harness import reserve_ports
from tests.machine import Machine
from tests.tls import make_certificates

KEY_NAME = "appliance-acme"
ZONE = """$TTL 60
@      IN SOA ns.lab.test. admin.lab.test. (1 60 60 600 60)
@      IN NS  ns.lab.test.
ns     IN A   127.0.0.1
@      IN A   127.0.0.1
hub    IN A   127.0.0.1
*.hub  IN A   127.0.0.1
"""


@dataclass(frozen=True)
class Acme:
    """What certbot needs, as paths and URLs inside the machine, and what a client needs to trust the result."""

    directory_url: str  # the ACME directory
    ca_bundle: str  # the CA of pebble's own HTTPS (certbot's REQUESTS_CA_BUNDLE)
    credentials: str  # the rfc2136 plugin's INI
    issuing_root: Path  # on this machine: the root pebble signs certificates with


def start_acme(machine: Machine, folder: Path) -> Acme:
    """Install and start bind9 (authoritative for lab.test, TSIG-signed updates of its TXT records) and pebble
    (its DNS-01 checks asked of that bind9), without waiting or random nonce refusals."""
    dns_port, acme_port, management_port = reserve_ports(3)
    # policy-rc.d 101: bind9's own service would start on *:53; this test starts named on its own port
    machine.write("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n")
    (machine.root / "usr/sbin/policy-rc.d").chmod(0o755)
    try:
        machine.run("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
                    "--no-install-recommends", "bind9", "pebble", timeout=900)
    finally:
        (machine.root / "usr/sbin/policy-rc.d").unlink()
    key = machine.run("tsig-keygen", "-a", "hmac-sha512", KEY_NAME).stdout
    match = re.search(r'secret "([^"]+)"', key)
    assert match, key
    machine.write("/root/dns/key.conf", key)
    machine.write("/root/dns/lab.test.zone", ZONE)
    machine.write("/root/dns/named.conf", f"""
options {{ directory "/root/dns"; pid-file "/root/dns/named.pid"; listen-on port {dns_port} {{ 127.0.0.1; }};
          listen-on-v6 {{ none; }}; recursion no; dnssec-validation no; }};
include "/root/dns/key.conf";
zone "lab.test" {{ type primary; file "/root/dns/lab.test.zone"; update-policy {{ grant {KEY_NAME} zonesub TXT; }}; }};
""")
    machine.run("systemd-run", "--unit", "test-named", "/usr/sbin/named", "-f", "-c", "/root/dns/named.conf")

    ca_file, cert, private_key = make_certificates(folder, ["localhost"], days=2)
    machine.run("mkdir", "-p", "/root/pebble")
    for file in (ca_file, cert, private_key):
        shutil.copy(file, machine.root / "root" / "pebble" / file.name)
    machine.write("/root/pebble/config.json", json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{acme_port}", "managementListenAddress": f"127.0.0.1:{management_port}",
        "certificate": "/root/pebble/cert.pem", "privateKey": "/root/pebble/key.pem",
        "httpPort": 5002, "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": False}}))
    machine.run("systemd-run", "--unit", "test-pebble", "-E", "PEBBLE_VA_NOSLEEP=1", "-E", "PEBBLE_WFE_NONCEREJECT=0",
                "/usr/bin/pebble", "-config", "/root/pebble/config.json", "-dnsserver", f"127.0.0.1:{dns_port}")
    for port in (dns_port, acme_port, management_port):
        _wait_listening(port, machine)

    credentials = "/etc/appliance/certbot-rfc2136.ini"
    machine.write(credentials, "\n".join([
        "dns_rfc2136_server = 127.0.0.1", f"dns_rfc2136_port = {dns_port}", f"dns_rfc2136_name = {KEY_NAME}",
        f"dns_rfc2136_secret = {match.group(1)}", "dns_rfc2136_algorithm = HMAC-SHA512", ""]))
    root = folder / "pebble-root.pem"  # made at its start: each pebble has its own
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca_file)), trust_env=False) as client:
        root.write_text(client.get(f"https://localhost:{management_port}/roots/0").raise_for_status().text)
    return Acme(f"https://localhost:{acme_port}/dir", "/root/pebble/ca.pem", credentials, root)


def _wait_listening(port: int, machine: Machine, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    units = machine.run("journalctl", "-u", "test-named", "-u", "test-pebble", "-n", "40", check=False).stdout
    raise AssertionError(f"nothing listens on port {port} {timeout_s:.0f} s after the start:\n{units}")
