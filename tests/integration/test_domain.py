"""A lab's own domain: the portal on lab.test and the hubs on hub.lab.test, both served over HTTPS by the
front proxy on one port, told apart by host name (as `install.sh --domain` sets up, on a loopback port
here). A throwaway certificate authority signs the certificate; the client trusts only it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from appliance.proxy.tls import file_certificate, served_certificate
from tests.integration.domain import HUB_HOST, PORTAL_HOST, Domain, on_domain
from tests.integration.oauth import add_user, follow, form_value, oauth_dance, sign_in
from tests.tls import loopback_client, make_certificates


@pytest.fixture(scope="module")
def domain() -> Iterator[Domain]:
    yield from on_domain()


def test_each_host_name_reaches_its_own_origin_only(domain: Domain) -> None:
    with domain.client() as client:
        home = client.get(f"{domain.portal}/")
        assert home.status_code == 200 and "Sign in" in home.text
        assert home.headers["strict-transport-security"] == "max-age=31536000"
        assert home.headers["x-frame-options"] == "DENY"

        hub_api = client.get(f"{domain.hubs}/hubs/1/hub/api/")
        assert hub_api.status_code == 200 and "version" in hub_api.json()
        assert hub_api.headers["strict-transport-security"] == "max-age=31536000"
        assert f"frame-ancestors 'self' {domain.portal}" in hub_api.headers["content-security-policy"]

        # the portal's host name never reaches a hub, and the hubs' never reaches the portal
        assert client.get(f"{domain.portal}/hubs/1/hub/api/").status_code == 404
        not_portal = client.get(f"{domain.hubs}/login")
        assert not_portal.status_code == 404 and "csrf_token" not in not_portal.text
        assert client.get(f"https://127.0.0.1:{domain.appliance.proxy_port}/hubs/1/hub/api/").status_code == 404

    # the port speaks only HTTPS
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{domain.appliance.proxy_port}/hubs/1/hub/api/",
                  headers={"Host": f"{HUB_HOST}:{domain.appliance.proxy_port}"}, timeout=10)


def test_a_member_signs_in_and_gets_their_lab_over_https_with_secure_cookies_only(domain: Domain) -> None:
    password = add_user(domain.appliance, "ada")
    with domain.client() as browser:
        signed_in = sign_in(browser, domain.portal, "ada", password)
        assert signed_in.status_code == 303
        session_cookie = signed_in.headers["set-cookie"]
        assert session_cookie.startswith("__Host-appliance_session=")
        assert "; Secure" in session_cookie and "; HttpOnly" in session_cookie and "; Path=/" in session_cookie

        assert browser.get(f"{domain.portal}/api/discovery/v1/me").json()["hub"] == "1"  # places her
        hub = f"{domain.hubs}/hubs/1"
        landed = oauth_dance(domain.portal, hub, "ada", password, browser)
        assert landed.status_code in (302, 303), landed.text[:1000]
        lab = follow(browser, f"{hub}/hub/spawn", timeout=90)
        assert str(lab.url.copy_with(query=None)) == f"{domain.member_host('ada')}/hubs/1/user/ada/lab"  # her own host
        assert lab.status_code == 200 and lab.headers["strict-transport-security"] == "max-age=31536000"

        contents = browser.get(f"{domain.member_host('ada')}/hubs/1/user/ada/api/contents")
        assert contents.status_code == 200 and contents.json()["type"] == "directory"

        # a browser ignores the clearing of a __Host- cookie that is not Secure: sign-out must say Secure
        home = browser.get(f"{domain.portal}/")
        signed_out = browser.post(f"{domain.portal}/logout", headers={"Origin": domain.portal},
                                  data={"csrf_token": form_value(home.text, "csrf_token")})
        assert signed_out.status_code == 303
        cleared = signed_out.headers["set-cookie"]
        assert cleared.startswith('__Host-appliance_session=""') and "; Secure" in cleared and "; Path=/" in cleared

    # every cookie with a value is Secure (JupyterHub clears some without the flag, which is harmless)
    given = [cookie for cookie in domain.set_cookies if '=""' not in cookie]
    assert len(given) >= 4, domain.set_cookies
    insecure = [cookie for cookie in given if "; secure" not in cookie.lower()]
    assert not insecure, insecure


def test_the_status_names_the_configured_hub_origin_never_the_requests_host(domain: Domain) -> None:
    with domain.client() as client:
        status = client.get(f"{domain.portal}/api/status")
        assert status.status_code == 200 and status.json()["hub_origin"] == domain.hubs  # not lab.test's own host
        assert domain.hubs not in client.get(f"{domain.portal}/").text  # the home page links no hub (it 404'd)

    # a client that reaches the portal with a Host of its choosing changes neither (or is refused)
    forged = {"Host": "attacker.example:443", "X-Forwarded-Proto": "https"}
    portal = f"http://127.0.0.1:{domain.appliance.portal_port}"
    status = httpx.get(f"{portal}/api/status", headers=forged, timeout=10)
    assert status.status_code != 200 or status.json()["hub_origin"] == domain.hubs, status.text
    home = httpx.get(f"{portal}/", headers=forged, timeout=10)
    assert home.status_code != 200 or "attacker.example" not in home.text


def test_a_renewed_certificate_is_served_after_a_reload_that_restarts_nothing(domain: Domain, tmp_path: Path) -> None:
    """What certbot's deploy hook runs after a renewal (`appliance reload proxy`): checked first, then served to
    new connections by the same proxy process; one the proxy could not serve is refused and nothing changes."""
    appliance = domain.appliance
    cert_file, key_file = (Path(appliance.env[f"APPLIANCE_PROXY_TLS_{name}"]) for name in ("CERT", "KEY"))
    original = cert_file.read_bytes(), key_file.read_bytes()
    port, first = appliance.proxy_port, file_certificate(str(cert_file))
    assert served_certificate("127.0.0.1", port, PORTAL_HOST) == first
    before = appliance.component_pids()

    def reload_with(cert: bytes, key: bytes) -> subprocess.CompletedProcess[str]:
        cert_file.write_bytes(cert)
        key_file.write_bytes(key)
        return appliance.cli("reload", "proxy")

    try:
        renewed_ca, renewed_cert, renewed_key = make_certificates(tmp_path, [PORTAL_HOST, HUB_HOST, f"*.{HUB_HOST}"])
        reloaded = reload_with(renewed_cert.read_bytes(), renewed_key.read_bytes())
        assert reloaded.returncode == 0, reloaded.stderr
        assert f"the proxy serves {cert_file} now" in reloaded.stdout
        assert served_certificate("127.0.0.1", port, PORTAL_HOST) == file_certificate(str(renewed_cert)) != first
        with loopback_client(renewed_ca, timeout=30) as client:
            assert client.get(f"{domain.portal}/api/status").status_code == 200

        (tmp_path / "other").mkdir()
        _, other_cert, other_key = make_certificates(tmp_path / "other", [PORTAL_HOST])
        mismatched = reload_with(renewed_cert.read_bytes(), other_key.read_bytes())
        assert mismatched.returncode == 1 and "cannot be used together" in mismatched.stderr, mismatched.stderr
        too_few = reload_with(other_cert.read_bytes(), other_key.read_bytes())
        assert too_few.returncode == 1, too_few.stderr
        assert f"does not name {HUB_HOST}, *.{HUB_HOST}" in too_few.stderr
        assert served_certificate("127.0.0.1", port, PORTAL_HOST) == file_certificate(str(renewed_cert))  # kept
        hub = appliance.cli("reload", "hub-1")
        assert hub.returncode == 1 and "hub-1 cannot reload its files in place" in hub.stderr
        assert "appliance restart hub-1" in hub.stderr
    finally:
        assert reload_with(*original).returncode == 0  # the module's certificate authority again
    assert served_certificate("127.0.0.1", port, PORTAL_HOST) == first
    assert appliance.component_pids() == before  # nothing restarted, the proxy neither
