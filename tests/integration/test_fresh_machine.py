"""The installer on a fresh Debian 12 with systemd as PID 1 (debootstrap + systemd-nspawn, tests/machine.py):
the appliance comes up as an enabled service with the systemd spawner; a member signed in through the
portal's OAuth flow gets a JupyterLab that runs as a transient unit with a dynamic user and the memory
limit; their saved notebook survives running the installer again (the upgrade), a reboot, and a backup
restored onto a fresh install after --purge; and --domain then serves it on a lab's own host names over HTTPS."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from appliance.proxy.tls import certificate_names, file_certificate, served_certificate
from tests.harness import reserve_ports
from tests.integration.acme import start_acme
from tests.integration.lab import (
    Member,
    Poller,
    jupyterlab_answers,
    research_csrf,
    research_state,
    server_url,
    start_server,
    wait_for,
)
from tests.integration.oauth import Browser, browser_client, follow, oauth_dance, sign_in, signs_in_afresh
from tests.machine import REPO, Machine
from tests.tls import loopback_client, make_certificates

pytestmark = pytest.mark.machines  # tests/run runs them in a pytest process of their own

HOME = "/var/lib/appliance"
CONFIG = "/etc/appliance/appliance.toml"
START = "/api/research/v1/server/start"
MEMBER = "postgresql"  # also a system folder's name: the member must not be handed /var/lib/postgresql
PROFILES = "big: memory=3G cpus=2 groups=big"
OPENED: list[httpx.Client] = []  # members' browsers with an open JupyterLab, closed with the machine


@dataclass
class Installed:
    """The machine, its appliance as this one reaches it (the network is shared), what the installer said."""

    machine: Machine
    portal_url: str
    proxy_url: str
    home: Path
    output: str
    config: str  # what the test wrote to /etc/appliance/appliance.toml
    public_portal_url: str  # the portal as browsers reach it: the trial names on the proxy's port
    https_port: int  # where the proxy serves 443 under --domain (serve_https_on_loopback)


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    machine = Machine().prepare()
    portal, proxy, api, postgres = reserve_ports(4)
    config = "\n".join([  # free ports: the machine shares this one's loopback; the installer keeps the file
        "[portal]", f"port = {portal}", "[proxy]", f"port = {proxy}", f"api_port = {api}",
        "[postgres]", f"port = {postgres}", "[hubs]", f"first_port = {reserve_ports(2)[0]}",
        f"profiles = '{PROFILES}'", ""])
    machine.write(CONFIG, config)
    try:
        machine.boot()
        began = time.monotonic()
        output = machine.run("bash", "-c", "cd /src && installer/install.sh", timeout=1800).stdout
        print(f"\nfresh Debian 12, booted, to a healthy appliance: {time.monotonic() - began:.0f} s")
        yield Installed(machine, f"http://127.0.0.1:{portal}", f"http://hub.lab.localhost:{proxy}",
                        machine.root / HOME.lstrip("/"), output, config, f"http://lab.localhost:{proxy}",
                        reserve_ports(1)[0])
    finally:
        Browser.close_all()
        while OPENED:
            OPENED.pop().close()
        machine.destroy()  # powered off: stopping the appliance first only took time (~25 s)


def test_the_installer_brings_the_appliance_up_with_the_systemd_spawner(installed: Installed) -> None:
    machine = installed.machine
    assert "Admin login: admin / " in installed.output
    assert "[1/6] checking this machine" in installed.output and "[6/6] starting" in installed.output
    assert "systemd: running" in installed.output
    # on its trial names: each member on a host of their own, and the installer says what they are good for
    said = " ".join(installed.output.split())  # as wrapped for the terminal
    assert "members are isolated from each other: each member's server has a host of its own " \
           "(<name>.hub.lab.localhost)" in said
    assert "reach this machine only from a browser running on it" in said
    assert machine.run("systemctl", "is-enabled", "appliance").stdout.strip() == "enabled"
    assert machine.run("systemctl", "is-active", "appliance").stdout.strip() == "active"
    assert_healthy_with_systemd_spawner(machine)
    private = ["/etc/appliance/appliance.toml", "/var/log/appliance-install.log", "/var/lib/appliance/logs",
               "/var/lib/appliance/logs/portal.log", "/var/lib/appliance/secrets"]  # the appliance's alone
    assert machine.run("stat", "-c", "%a", *private).stdout.split() == ["600", "600", "700", "600", "700"]


def assert_healthy_with_systemd_spawner(machine: Machine) -> None:
    status = json.loads(machine.run("appliance", "status", "--json", "--wait", "120").stdout)
    assert all(component["state"] == "healthy" for component in status["components"]), status
    assert [(hub["spawner"], hub["isolation"]) for hub in status["hubs"]] == [("systemd", "systemd")] * 2


def test_a_members_server_is_a_transient_unit_with_a_dynamic_user_and_the_memory_limit(installed: Installed) -> None:
    machine = installed.machine
    name = MEMBER
    password = machine.run("appliance", "users", "add", name).stdout.strip().rsplit(" ", 1)[-1]
    (machine.root / "root" / "member-password").write_text(password)  # for the restore, at the end
    portal = Browser(installed)  # type: ignore[arg-type]
    portal.sign_in(name, password)
    hub_id = portal.http.get("/api/discovery/v1/me").json()["hub"]
    with browser_client(timeout=60) as browser:
        hub = f"{installed.proxy_url}/hubs/{hub_id}"
        landed = start_server(installed, hub, name, password, browser)  # type: ignore[arg-type]
        server = server_url(landed)
        assert urlsplit(server).hostname == f"{name}.hub.lab.localhost"
        xsrf = next(c.value for c in browser.cookies.jar if c.name == "_xsrf" and "/user/" in c.path)
        saved = browser.put(f"{server}/api/contents/in-a-unit.ipynb", headers={"X-XSRFToken": xsrf or ""}, json={
            "type": "notebook", "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}})
        assert saved.status_code == 201, saved.text

    unit = f"appliance-hub{hub_id}-{name}"
    shown = dict(line.split("=", 1) for line in machine.run(
        "systemctl", "show", unit, "-p", "ActiveState", "-p", "DynamicUser", "-p", "MemoryMax", "-p", "User",
        "-p", "MainPID", "-p", "PrivateTmp", "-p", "StateDirectory").stdout.splitlines())
    assert shown["ActiveState"] == "active" and shown["DynamicUser"] == "yes" and shown["PrivateTmp"] == "yes"
    assert shown["MemoryMax"] == str(2 * 1024**3)  # hubs.memory_limit's default
    assert shown["StateDirectory"] == f"appliance-members/{name}"
    assert shown["User"] == unit
    uid = int(machine.run("stat", "-c", "%u", f"/proc/{shown['MainPID']}").stdout)
    assert 61184 <= uid <= 65519  # systemd's range for dynamic users: the server does not run as root
    assert machine.run("stat", "-c", "%U", "/var/lib/postgresql").stdout.strip() == "postgres"
    assert_saved(machine)


def test_a_member_of_big_gets_its_size_on_their_unit_and_one_outside_cannot_have_it(installed: Installed) -> None:
    machine = installed.machine
    members = {}
    for name, groups in (("bigada", ["--group=big"]), ("bigbob", ["--group=physics"])):
        password = machine.run("appliance", "users", "add", name, *groups).stdout.strip().rsplit(" ", 1)[-1]
        portal = Browser(installed)  # type: ignore[arg-type]
        portal.sign_in(name, password)
        member = members[name] = Member(name, password, portal)
        with browser_client(timeout=60) as browser:  # the hub learns their groups when they sign in to it
            oauth_dance(installed.public_portal_url, f"{installed.proxy_url}/hubs/{member.hub_id()}", name, password,
                        browser)

    ada, bob = members["bigada"], members["bigbob"]
    started = ada.portal.http.post(START, headers={"X-CSRF-Token": research_csrf(ada)}, json={"profile": "big"})
    assert started.status_code == 200, started.text
    wait_for(lambda: research_state(ada) == "running", 120, "bigada's server to run")
    shown = dict(line.split("=", 1) for line in machine.run(
        "systemctl", "show", f"appliance-hub{ada.hub_id()}-bigada", "-p", "MemoryMax", "-p", "CPUQuotaPerSecUSec"
    ).stdout.splitlines())
    assert (shown["MemoryMax"], shown["CPUQuotaPerSecUSec"]) == (str(3 * 1024**3), "2s")  # the big profile's

    refused = bob.portal.http.post(START, headers={"X-CSRF-Token": research_csrf(bob)}, json={"profile": "big"})
    assert refused.status_code == 403 and "is for members of big" in refused.text, refused.text
    with browser_client(timeout=60) as browser:  # straight to the hub's API, as a member's own script could
        hub = f"{installed.proxy_url}/hubs/{bob.hub_id()}"
        oauth_dance(installed.public_portal_url, hub, bob.name, bob.password, browser)
        xsrf = next(c.value for c in browser.cookies.jar if c.name == "_xsrf")
        asked = browser.post(f"{hub}/hub/api/users/bigbob/server", json={"profile": "big"},
                             headers={"X-XSRFToken": xsrf or ""})
    assert asked.status_code >= 400, asked.text
    state = machine.run("systemctl", "show", f"appliance-hub{bob.hub_id()}-bigbob", "-p", "ActiveState").stdout
    assert state.strip() in ("ActiveState=inactive", "ActiveState=failed"), state  # no unit of the big size ran
    assert research_state(bob) == "stopped"


def test_every_component_logs_to_the_journal_with_its_fields_and_logs_searches_it(installed: Installed) -> None:
    machine = installed.machine
    entries = [json.loads(line) for line in machine.run(
        "journalctl", "-o", "json", "--no-pager", "APPLIANCE_COMPONENT=hub-1").stdout.splitlines()]
    assert entries and {(e["APPLIANCE_HUB"], e["APPLIANCE_HOME"], e["SYSLOG_IDENTIFIER"]) for e in entries} == {
        ("1", HOME, "appliance-hub-1")}
    assert any("registered with discovery as hub 1" in e["MESSAGE"] for e in entries)
    components = set(machine.run("journalctl", "--no-pager", "-F", "APPLIANCE_COMPONENT").stdout.split())
    assert {"supervisor", "postgres", "portal", "proxy", "hub-1", "hub-2", "renderer"} <= components, components

    # the files go on being written (the console reads them); empty them: a search must come from the journal
    machine.run("bash", "-c", f"truncate -s 0 {HOME}/logs/hub-1.log*")
    found = machine.run("appliance", "logs", "hub-1", "--since", "1h", "--grep", "REGISTERED WITH discovery").stdout
    assert "hub-1 | " in found and "registered with discovery as hub 1" in found, found
    assert machine.run("appliance", "logs", "hub-1", "--since", "2999-01-01").stdout.strip() == "No line matches."
    refused = machine.run("appliance", "logs", "--since", "last tuesday", check=False)
    assert refused.returncode == 1 and "--since = 'last tuesday': give" in refused.stderr, refused.stderr


def assert_saved(machine: Machine) -> None:
    """The member's notebook is in the storage (exported from PostgreSQL, not read from a disk)."""
    machine.run("rm", "-rf", "/root/exported")
    exported = machine.run("appliance", "storage", "export", MEMBER, "/root/exported")
    assert (machine.root / "root/exported/in-a-unit.ipynb").is_file(), exported.stdout


def released_as(wheel: Path, version: str, folder: Path) -> Path:
    """``wheel`` as release ``version``: its dist-info renamed, METADATA's version and RECORD rewritten."""
    name, old = wheel.name.split("-")[:2]
    target = folder / wheel.name.replace(f"-{old}-", f"-{version}-")
    old_info, new_info = f"{name}-{old}.dist-info/", f"{name}-{version}.dist-info/"
    records = []
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as released:
        for item in source.infolist():
            path, data = item.filename.replace(old_info, new_info), source.read(item)
            if path == f"{new_info}RECORD":
                continue
            if path == f"{new_info}METADATA":
                data = re.sub(rb"^Version: .*$", f"Version: {version}".encode(), data, count=1, flags=re.MULTILINE)
            released.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{path},sha256={digest},{len(data)}")
        released.writestr(f"{new_info}RECORD", "\n".join([*records, f"{new_info}RECORD,,"]) + "\n")
    return target


def open_jupyterlab(installed: Installed, name: str) -> tuple[httpx.Client, str]:
    """A new member's running JupyterLab, signed in through the portal and their hub: the browser, the server."""
    password = installed.machine.run("appliance", "users", "add", name).stdout.strip().rsplit(" ", 1)[-1]
    portal = Browser(installed)  # type: ignore[arg-type]
    assert portal.sign_in(name, password).status_code == 303
    hub = f"{installed.proxy_url}/hubs/{portal.http.get('/api/discovery/v1/me').json()['hub']}"
    browser = browser_client(timeout=60)
    OPENED.append(browser)
    return browser, server_url(start_server(installed, hub, name, password, browser))  # type: ignore[arg-type]


def test_the_installer_piped_with_a_newer_wheel_upgrades_in_place_and_nobody_notices(
        installed: Installed, built_wheel: Path, tmp_path: Path) -> None:
    """As `curl -fsSL URL/install.sh | sudo bash -s -- --from WHEEL` would run it, no checkout around, while two
    members' open JupyterLabs poll their servers every 100 ms and a third member signs in every 2 s."""
    machine = installed.machine
    version = f"{built_wheel.name.split('-')[1]}.post1"
    wheel = released_as(built_wheel, version, tmp_path)
    config_before = (machine.root / CONFIG.lstrip("/")).read_text()
    shutil.copy(wheel, machine.root / "root" / wheel.name)
    shutil.copy(REPO / "installer" / "install.sh", machine.root / "root" / "install.sh")
    pollers = [Poller(partial(jupyterlab_answers, *open_jupyterlab(installed, name)), every_s=0.1)
               for name in ("upada", "upbob")]
    newcomer = "upcat"
    password = machine.run("appliance", "users", "add", newcomer).stdout.strip().rsplit(" ", 1)[-1]
    pollers.append(Poller(partial(signs_in_afresh, installed.public_portal_url, newcomer, password), every_s=2.0))
    for poller in pollers:
        poller.start()
    began = time.monotonic()
    again = machine.run("bash", "-c", f"cd / && bash -s -- --from /root/{wheel.name} < /root/install.sh",
                        timeout=1800).stdout
    took = time.monotonic() - began
    time.sleep(1)
    [lab_a, lab_b, sign_ins] = [poller.finish() for poller in pollers]
    print(f"\nthe installer's upgrade to {version} in place: {took:.1f} s; JupyterLab polls failed "
          f"{lab_a.count(False)} of {len(lab_a)} and {lab_b.count(False)} of {len(lab_b)} (at most "
          f"{max(p.failures_in_a_row() for p in pollers[:2])} in a row); sign-ins failed {sign_ins.count(False)} of "
          f"{len(sign_ins)}")
    # in place: the portal, the renderer and each hub in turn, the database and the proxy running on
    assert "upgrading the running appliance one component at a time" in again, again
    assert all(len(poller.answers) > 50 and poller.failures_in_a_row() <= 1 for poller in pollers[:2]), (lab_a, lab_b)
    assert len(sign_ins) >= 5 and all(sign_ins), sign_ins
    status = json.loads(machine.run("appliance", "status", "--json").stdout)
    assert [hub["version"] for hub in status["hubs"]] == [version, version], status["hubs"]
    with browser_client() as browser:
        assert browser.get(f"{installed.portal_url}/api/status").json()["version"] == version
    assert not (machine.root / "opt/appliance/venv.previous").exists()  # the running version's copy, once done
    assert f"keeping {CONFIG}" in again and "Admin login" not in again  # shown on the first install only
    assert (machine.root / CONFIG.lstrip("/")).read_text() == config_before
    assert_healthy_with_systemd_spawner(machine)
    assert_saved(machine)
    piped = machine.run("bash", "-c", "cd / && bash -s < /root/install.sh", check=False)
    assert piped.returncode == 2 and "--from PATH_OR_WHEEL" in piped.stderr  # piped without saying what


def test_the_installer_checks_the_machine_first_and_says_what_is_wrong(installed: Installed) -> None:
    machine = installed.machine
    os_release = machine.root / "etc" / "os-release"
    real = os_release.read_text()
    os_release.unlink()  # a symlink into /usr/lib on Debian
    os_release.write_text('ID=fedora\nVERSION_ID="40"\n')
    try:
        refused = machine.run("bash", "-c", "cd /src && installer/install.sh", check=False)
    finally:
        os_release.write_text(real)
    assert refused.returncode == 1
    assert "this is fedora 40; the appliance is made for Debian 12 and Ubuntu 22.04 or 24.04" in refused.stderr
    assert "[2/6]" not in refused.stdout  # nothing was installed or changed


def test_after_a_reboot_the_service_comes_back_by_itself(installed: Installed) -> None:
    machine = installed.machine.reboot()
    assert_healthy_with_systemd_spawner(machine)
    assert_saved(machine)


def test_backup_purge_fresh_install_and_restore_bring_the_notebook_back(installed: Installed) -> None:
    machine = installed.machine
    assert "database appliance" in machine.run("appliance", "backup", "/root/lab.backup").stdout
    purged = machine.run("bash", "-c", "cd /src && installer/install.sh --purge").stdout
    assert "Removing appliance, its data and its configuration" in purged
    for gone in ("/opt/appliance", HOME, "/etc/appliance", "/etc/systemd/system/appliance.service"):
        assert not (machine.root / gone.lstrip("/")).exists(), gone
    machine.write(CONFIG, installed.config)  # this machine's free ports again
    fresh = machine.run("bash", "-c", "cd /src && installer/install.sh", timeout=1800).stdout
    assert "Admin login: admin / " in fresh  # a first install again
    machine.run("systemctl", "stop", "appliance")
    restored = machine.run("appliance", "restore", "/root/lab.backup").stdout
    assert "database appliance: restored" in restored
    machine.run("systemctl", "start", "appliance")
    assert_healthy_with_systemd_spawner(machine)
    assert_saved(machine)
    password = (machine.root / "root" / "member-password").read_text()
    assert Browser(installed).sign_in(MEMBER, password).status_code == 303  # type: ignore[arg-type]


def serve_https_on_loopback(installed: Installed) -> int:
    """The machine shares this one's network and may bind loopback only: a drop-in moves the front proxy from
    *:443 to a free loopback port (and leaves port 80 alone), which clients reach for 443 (tls.loopback_client)."""
    installed.machine.write("/etc/systemd/system/appliance.service.d/loopback.conf", "[Service]\nEnvironment="
                            f"APPLIANCE_PROXY_HOST=127.0.0.1 APPLIANCE_PROXY_PORT={installed.https_port} "
                            "APPLIANCE_PROXY_HTTP_REDIRECT_PORT=0\n")
    installed.machine.run("systemctl", "daemon-reload")
    return installed.https_port


def component_pids(machine: Machine) -> dict[str, int]:
    status = json.loads(machine.run("appliance", "status", "--json").stdout)
    return {component["name"]: component["pid"] for component in status["components"]}


def test_the_installer_gives_the_lab_its_own_domain_over_https(installed: Installed, tmp_path: Path) -> None:
    """`install.sh --domain lab.test --tls-cert … --tls-key …` on the installed machine: the portal on
    https://lab.test and the member's notebook through https://hub.lab.test. The machine shares this one's
    network and may bind loopback only (serve_https_on_loopback)."""
    machine, port = installed.machine, serve_https_on_loopback(installed)
    ca_file, cert, key = make_certificates(tmp_path, ["lab.test", "hub.lab.test", "*.hub.lab.test"])
    machine.run("mkdir", "-p", "/root/tls")
    for file in (cert, key):
        shutil.copy(file, machine.root / "root" / "tls" / file.name)
    config_before = (machine.root / CONFIG.lstrip("/")).read_text().splitlines()
    domain = ("cd /src && installer/install.sh --domain lab.test --tls-cert /root/tls/cert.pem "
              "--tls-key /root/tls/key.pem")

    output = machine.run("bash", "-c", domain, timeout=1800).stdout
    assert "set the portal to https://lab.test and the hubs to https://hub.lab.test" in output, output
    assert "restarting appliance.service on the new version or configuration" in output
    assert "Point lab.test, hub.lab.test and *.hub.lab.test at this machine" in output
    assert "trial names" not in output
    config_after = (machine.root / CONFIG.lstrip("/")).read_text().splitlines()
    proxy_port = urlsplit(installed.proxy_url).port
    assert set(config_before) - set(config_after) == {f"port = {proxy_port}"}  # now 443; the rest stays
    assert {'public_url = "https://lab.test"', 'public_url = "https://hub.lab.test"', "port = 443",
            'tls_cert = "/root/tls/cert.pem"', 'tls_key = "/root/tls/key.pem"'} <= set(config_after)
    assert_healthy_with_systemd_spawner(machine)

    password = (machine.root / "root" / "member-password").read_text()
    with loopback_client(ca_file, ports={443: port}, timeout=60) as browser:
        assert sign_in(browser, "https://lab.test", MEMBER, password).status_code == 303
        hub = f"https://hub.lab.test/hubs/{browser.get('https://lab.test/api/discovery/v1/me').json()['hub']}"
        oauth_dance("https://lab.test", hub, MEMBER, password, browser)
        lab = follow(browser, f"{hub}/hub/spawn", timeout=120)
        assert lab.status_code == 200 and lab.headers["strict-transport-security"], lab.url
        server = server_url(lab)
        assert urlsplit(server).hostname == f"{MEMBER}.hub.lab.test"
        notebook = browser.get(f"{server}/api/contents/in-a-unit.ipynb")
        assert notebook.status_code == 200 and notebook.json()["type"] == "notebook"

    again = machine.run("bash", "-c", domain, timeout=1800).stdout
    assert "keeping https://lab.test (portal) and https://hub.lab.test (hubs)" in again
    assert "restarting" not in again


def test_certbot_gets_the_certificate_by_the_dns_challenge_and_a_renewal_restarts_nothing(
        installed: Installed, tmp_path: Path) -> None:
    """`install.sh --domain lab.test --certbot rfc2136`: Debian's certbot gets the portal's, the hubs' and the
    members' wildcard names from pebble, its DNS challenge answered through bind9; a forced renewal hands the new
    certificate to the running proxy (certbot's deploy hook), restarting no component, the proxy neither, while a
    member's open JupyterLab keeps answering."""
    machine, port = installed.machine, serve_https_on_loopback(installed)
    acme = start_acme(machine, tmp_path)
    config_before = (machine.root / CONFIG.lstrip("/")).read_text()
    certbot = "cd /src && installer/install.sh --domain lab.test --certbot"
    unknown = machine.run("bash", "-c", f"{certbot} nosuchdns --certbot-credentials {acme.credentials}", check=False)
    assert unknown.returncode == 1, unknown.stderr
    assert "there is no package python3-certbot-dns-nosuchdns. This system's DNS plugins for certbot: " in \
        unknown.stderr and " rfc2136 " in unknown.stderr, unknown.stderr
    uncredited = machine.run("bash", "-c", f"{certbot} rfc2136 --certbot-credentials /root/none.ini", check=False)
    assert uncredited.returncode == 1, uncredited.stderr
    assert "--certbot rfc2136 needs the plugin's credentials in /root/none.ini" in uncredited.stderr
    assert (machine.root / CONFIG.lstrip("/")).read_text() == config_before  # nothing changed
    output = machine.run("bash", "-c", f"cd /src && REQUESTS_CA_BUNDLE={acme.ca_bundle} installer/install.sh "
                         f"--domain lab.test --certbot rfc2136 --certbot-server {acme.directory_url} --certbot-wait 1",
                         timeout=1800).stdout
    assert "the certificate for lab.test, hub.lab.test and *.hub.lab.test from certbot (rfc2136's DNS challenge)" \
        in output, output
    assert_healthy_with_systemd_spawner(machine)
    live = str(machine.root / "etc/letsencrypt/live/appliance/fullchain.pem")
    assert certificate_names(live) == {"lab.test", "hub.lab.test", "*.hub.lab.test"}

    password = (machine.root / "root" / "member-password").read_text()
    with loopback_client(acme.issuing_root, ports={443: port}, timeout=60) as browser:  # pebble's root only
        assert sign_in(browser, "https://lab.test", MEMBER, password).status_code == 303
        hub = f"https://hub.lab.test/hubs/{browser.get('https://lab.test/api/discovery/v1/me').json()['hub']}"
        oauth_dance("https://lab.test", hub, MEMBER, password, browser)
        lab = follow(browser, f"{hub}/hub/spawn", timeout=120)
        assert lab.status_code == 200 and lab.url.path.endswith(f"/user/{MEMBER}/lab"), (lab.url, lab.status_code)
        server = server_url(lab)
        status = browser.get(f"{server}/api/status", timeout=5)
        assert status.status_code == 200, (status.url, status.status_code, status.text[:500])
        first, before = served_certificate("127.0.0.1", port, "lab.test"), component_pids(machine)
        poller = Poller(partial(jupyterlab_answers, browser, server), every_s=0.1)
        poller.start()
        renewed = machine.run("env", f"REQUESTS_CA_BUNDLE={acme.ca_bundle}", "certbot", "renew", "--force-renewal",
                              "--no-random-sleep-on-renew", "--cert-name", "appliance", timeout=600)
        time.sleep(1)
        answers = poller.finish()
    said = renewed.stdout + renewed.stderr
    print(f"\ncertbot's forced renewal: {answers.count(False)} of {len(answers)} JupyterLab polls failed")
    assert "the proxy serves /etc/letsencrypt/live/appliance/fullchain.pem now" in said, said
    now_served = served_certificate("127.0.0.1", port, "lab.test")
    assert now_served != first and now_served == file_certificate(live)  # the renewed one, to new connections
    assert component_pids(machine) == before  # nothing restarted
    assert len(answers) > 10 and all(answers), answers
