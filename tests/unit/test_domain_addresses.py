"""A lab's own domain: when the front proxy routes by host name, its TLS arguments and the checks of
the certificate files, and how a hub's routes carry the host name (pure logic; tests/integration/
test_domain.py runs it all for real)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.config import load_config
from appliance.errors import ConfigError
from appliance.hub import addresses
from appliance.hub.app import SharedProxy
from appliance.proxy import ProxySettings, proxy_spec
from tests.tls import make_certificates

DOMAIN = {"APPLIANCE_PORTAL_PUBLIC_URL": "https://lab.example.org",
          "APPLIANCE_HUBS_PUBLIC_URL": "https://hub.lab.example.org", "APPLIANCE_PROXY_PORT": "443"}


def test_the_two_port_default_routes_by_path(tmp_path: Path) -> None:
    config = load_config(home=tmp_path, environ={})
    assert not addresses.host_routing(config)
    assert addresses.route_prefix(config) == "" and addresses.portal_route(config) is None
    assert addresses.hub_origin(config) == "http://127.0.0.1:8001"


def test_own_host_names_route_by_host_and_the_proxy_serves_the_portal(tmp_path: Path) -> None:
    config = load_config(home=tmp_path, environ=DOMAIN)
    assert addresses.host_routing(config)
    assert addresses.route_prefix(config) == "/hub.lab.example.org"
    assert addresses.portal_route(config) == "/lab.example.org"
    assert addresses.portal_local(config) == "http://127.0.0.1:8000"
    assert addresses.oauth_callback(config, "2") == "https://hub.lab.example.org/hubs/2/hub/oauth_callback"


def test_a_certificate_makes_the_default_hub_origin_https(tmp_path: Path) -> None:
    cert, key = make_certificates(tmp_path, ["localhost"])[1:]
    config = load_config(home=tmp_path, environ={"APPLIANCE_PROXY_TLS_CERT": str(cert),
                                                 "APPLIANCE_PROXY_TLS_KEY": str(key)})
    assert addresses.hub_origin(config) == "https://127.0.0.1:8001"


@pytest.mark.parametrize(("env", "message"), [
    ({"APPLIANCE_PROXY_TLS_CERT": "/etc/cert.pem"}, "proxy.tls_cert and proxy.tls_key go together"),
    ({"APPLIANCE_PROXY_TLS_KEY": "/etc/key.pem"}, "proxy.tls_cert and proxy.tls_key go together"),
    ({"APPLIANCE_PROXY_HTTP_REDIRECT_PORT": "80"}, "needs proxy.tls_cert and proxy.tls_key"),
])
def test_half_a_tls_setup_is_refused(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(home=tmp_path, environ=env)


def test_the_proxy_gets_host_routing_tls_and_the_redirect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("appliance.proxy.find_proxy_command", lambda settings: Path("/usr/bin/chp"))
    cert, key = make_certificates(tmp_path, ["lab.example.org", "hub.lab.example.org"])[1:]
    settings = ProxySettings(host="0.0.0.0", port=443, tls_cert=str(cert), tls_key=str(key), http_redirect_port=80)
    spec = proxy_spec(settings, "token", host_routing=True)
    argv = " ".join(spec.argv)
    assert "--host-routing" in argv
    assert f"--ssl-cert {cert} --ssl-key {key}" in argv
    assert "--redirect-port 80 --redirect-to 443" in argv
    assert [(port.host, port.port) for port in spec.ports] == [("0.0.0.0", 443), ("127.0.0.1", 8002), ("0.0.0.0", 80)]

    plain = " ".join(proxy_spec(ProxySettings(), "token", host_routing=False).argv)
    assert "--host-routing" not in plain and "--ssl" not in plain and "--redirect" not in plain


def test_certificate_files_that_cannot_serve_are_refused_by_name(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("appliance.proxy.find_proxy_command", lambda settings: Path("/usr/bin/chp"))
    cert, key = make_certificates(tmp_path, ["lab.example.org"])[1:]
    other = tmp_path / "other"
    other.mkdir()
    other_key = make_certificates(other, ["lab.example.org"])[2]

    with pytest.raises(ConfigError, match=f"proxy.tls_cert = {tmp_path}/missing.pem does not exist"):
        proxy_spec(ProxySettings(tls_cert=str(tmp_path / "missing.pem"), tls_key=str(key)), "token", False)
    with pytest.raises(ConfigError, match="cannot be used together") as refused:
        proxy_spec(ProxySettings(tls_cert=str(cert), tls_key=str(other_key)), "token", False)
    assert "KEY_VALUES_MISMATCH" in str(refused.value) or "mismatch" in str(refused.value).lower()
    with pytest.raises(ConfigError, match="cannot be used together"):
        proxy_spec(ProxySettings(tls_cert=str(key), tls_key=str(key)), "token", False)


def test_a_hub_adds_and_takes_off_the_host_name_of_its_routes() -> None:
    proxy = SharedProxy(route_host="hub.lab.example.org")
    assert proxy._routespec_to_chp_path("/hubs/1/user/ada/") == "/hub.lab.example.org/hubs/1/user/ada"
    assert proxy._routespec_from_chp_path("/hub.lab.example.org/hubs/1/user/ada") == "/hubs/1/user/ada/"
    # another host's route (the portal's) never looks like one of this hub's
    assert not proxy._routespec_from_chp_path("/lab.example.org").startswith("/hubs/1/")
    assert not proxy._routespec_from_chp_path("/hub.lab.example.orgx/hubs/1").startswith("/hubs/1/")

    by_path = SharedProxy()
    assert by_path._routespec_to_chp_path("/hubs/1/user/ada/") == "/hubs/1/user/ada"
    assert by_path._routespec_from_chp_path("/hubs/1/user/ada") == "/hubs/1/user/ada/"
