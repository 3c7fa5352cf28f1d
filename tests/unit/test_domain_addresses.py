"""A lab's own domain: when the front proxy routes by host name, its TLS arguments and the checks of
the certificate files, and how a hub's routes carry the host name (pure logic; tests/integration/
test_domain.py runs it all for real)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.config import load_config
from appliance.errors import ConfigError
from appliance.hub.app import SharedProxy
from appliance.proxy import ProxySettings, check_certificate_names, proxy_spec
from tests.tls import make_certificates

DOMAIN = {"APPLIANCE_PORTAL_PUBLIC_URL": "https://lab.example.org",
          "APPLIANCE_HUBS_PUBLIC_URL": "https://hub.lab.example.org", "APPLIANCE_PROXY_PORT": "443"}


def test_by_default_the_portal_hubs_and_members_have_trial_names_on_the_proxys_port(tmp_path: Path) -> None:
    config = load_config(home=tmp_path, environ={})
    assert config.addresses.trial_names and config.addresses.host_routing and config.addresses.members_isolated
    assert config.addresses.portal_origin == "http://lab.localhost:8001"
    assert config.addresses.hub_origin == "http://hub.lab.localhost:8001"
    assert config.addresses.portal_route == "/lab.localhost"
    assert config.addresses.hub_routespec("2") == "hub.lab.localhost/hubs/2/"
    assert config.addresses.portal_local == "http://127.0.0.1:8000"  # the hubs' own way in
    report = config.addresses.members_report()
    assert report["isolated"] and "a browser running on it" in str(report["note"])


def test_a_bare_address_routes_by_path_and_says_members_are_not_isolated(tmp_path: Path) -> None:
    for environ in ({"APPLIANCE_PORTAL_HOST": "0.0.0.0", "APPLIANCE_PROXY_HOST": "0.0.0.0"},
                    {"APPLIANCE_PORTAL_PUBLIC_URL": "http://192.0.2.7:8000"}):
        config = load_config(home=tmp_path, environ=environ)
        assert not config.addresses.trial_names and not config.addresses.host_routing
        assert not config.addresses.members_isolated
        assert config.addresses.route_prefix == "" and config.addresses.portal_route is None
        assert "NOT isolated" in str(config.addresses.members_report()["note"])
    assert config.addresses.hub_origin == "http://192.0.2.7:8001"
    # hubs on an address of their own: still one origin for every member
    config = load_config(home=tmp_path, environ={**DOMAIN, "APPLIANCE_HUBS_PUBLIC_URL": "https://192.0.2.8"})
    assert config.addresses.host_routing and not config.addresses.members_isolated


def test_the_certificate_must_name_the_portal_the_hubs_and_every_member(tmp_path: Path) -> None:
    config = load_config(home=tmp_path, environ=DOMAIN)
    assert config.addresses.certificate_hosts == ["lab.example.org", "hub.lab.example.org", "*.hub.lab.example.org"]
    cert, key = make_certificates(tmp_path, ["lab.example.org", "hub.lab.example.org"])[1:]
    settings = ProxySettings(tls_cert=str(cert), tls_key=str(key))
    with pytest.raises(ConfigError, match=r"does not name \*\.hub\.lab\.example\.org "):
        check_certificate_names(settings, config.addresses.certificate_hosts)
    check_certificate_names(settings, ["hub.lab.example.org"])
    wildcard = make_certificates(tmp_path, ["*.lab.example.org"])[1]
    check_certificate_names(ProxySettings(tls_cert=str(wildcard), tls_key=str(key)), ["hub.lab.example.org"])


def test_own_host_names_route_by_host_and_the_proxy_serves_the_portal(tmp_path: Path) -> None:
    config = load_config(home=tmp_path, environ=DOMAIN)
    assert config.addresses.host_routing
    assert config.addresses.route_prefix == "/hub.lab.example.org"
    assert config.addresses.portal_route == "/lab.example.org"
    assert config.addresses.portal_local == "http://127.0.0.1:8000"
    assert config.addresses.oauth_callback("2") == "https://hub.lab.example.org/hubs/2/hub/oauth_callback"


def test_a_certificate_makes_the_default_hub_origin_https(tmp_path: Path) -> None:
    cert, key = make_certificates(tmp_path, ["localhost"])[1:]
    config = load_config(home=tmp_path, environ={"APPLIANCE_PROXY_TLS_CERT": str(cert),
                                                 "APPLIANCE_PROXY_TLS_KEY": str(key)})
    assert not config.addresses.trial_names  # the trial names are plain HTTP
    assert config.addresses.hub_origin == "https://127.0.0.1:8001"


@pytest.mark.parametrize(("env", "message"), [
    ({"APPLIANCE_PROXY_TLS_CERT": "/etc/cert.pem"}, "proxy.tls_cert and proxy.tls_key go together"),
    ({"APPLIANCE_PROXY_TLS_KEY": "/etc/key.pem"}, "proxy.tls_cert and proxy.tls_key go together"),
    ({"APPLIANCE_PROXY_HTTP_REDIRECT_PORT": "80"}, "needs proxy.tls_cert and proxy.tls_key"),
])
def test_half_a_tls_setup_is_refused(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(home=tmp_path, environ=env)


def test_the_proxy_gets_host_routing_tls_and_the_redirect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("appliance.proxy.child.find_proxy_command", lambda settings: Path("/usr/bin/chp"))
    cert, key = make_certificates(tmp_path, ["lab.example.org", "hub.lab.example.org"])[1:]
    settings = ProxySettings(host="0.0.0.0", port=443, tls_cert=str(cert), tls_key=str(key), http_redirect_port=80)
    spec = proxy_spec(settings, "token", [("/lab.example.org", "http://127.0.0.1:8000")])
    argv = " ".join(spec.argv)
    assert "--host-routing" in argv
    assert f"--ssl-cert {cert} --ssl-key {key}" in argv
    assert "--redirect-port 80 --redirect-to 443" in argv
    assert [(port.host, port.port) for port in spec.ports] == [("0.0.0.0", 443), ("127.0.0.1", 8002), ("0.0.0.0", 80)]

    plain = " ".join(proxy_spec(ProxySettings(), "token").argv)
    assert "--host-routing" not in plain and "--ssl" not in plain and "--redirect" not in plain
    assert "--log-level warn" in plain  # at info, every call to its API is a line


def test_the_proxys_log_level_is_one_it_knows(tmp_path: Path) -> None:
    assert load_config(home=tmp_path, environ={"APPLIANCE_PROXY_LOG_LEVEL": "info"}).proxy.log_level == "info"
    with pytest.raises(ConfigError, match="proxy.log_level = 'verbose': must be one of error, warn, info, debug"):
        load_config(home=tmp_path, environ={"APPLIANCE_PROXY_LOG_LEVEL": "verbose"})


def test_certificate_files_that_cannot_serve_are_refused_by_name(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("appliance.proxy.child.find_proxy_command", lambda settings: Path("/usr/bin/chp"))
    cert, key = make_certificates(tmp_path, ["lab.example.org"])[1:]
    other = tmp_path / "other"
    other.mkdir()
    other_key = make_certificates(other, ["lab.example.org"])[2]

    with pytest.raises(ConfigError, match=f"proxy.tls_cert = {tmp_path}/missing.pem does not exist"):
        proxy_spec(ProxySettings(tls_cert=str(tmp_path / "missing.pem"), tls_key=str(key)), "token")
    with pytest.raises(ConfigError, match="cannot be used together") as refused:
        proxy_spec(ProxySettings(tls_cert=str(cert), tls_key=str(other_key)), "token")
    assert "KEY_VALUES_MISMATCH" in str(refused.value) or "mismatch" in str(refused.value).lower()
    with pytest.raises(ConfigError, match="cannot be used together"):
        proxy_spec(ProxySettings(tls_cert=str(key), tls_key=str(key)), "token")


def test_a_hub_adds_and_takes_off_the_host_name_of_its_routes() -> None:
    proxy = SharedProxy(route_host="hub.lab.example.org")
    assert proxy._routespec_to_chp_path("/hubs/1/user/ada/") == "/hub.lab.example.org/hubs/1/user/ada"
    assert proxy._routespec_from_chp_path("/hub.lab.example.org/hubs/1/user/ada") == "/hubs/1/user/ada/"
    # another host's route (the portal's) never looks like one of this hub's
    assert not proxy._routespec_from_chp_path("/lab.example.org").startswith("/hubs/1/")
    assert not proxy._routespec_from_chp_path("/hub.lab.example.orgx/hubs/1").startswith("/hubs/1/")

    # with members on hosts of their own JupyterHub puts the host in every routespec itself
    assert proxy._path_of("ada.hub.lab.example.org/hubs/1/user/ada/") == "/hubs/1/user/ada/"
    assert proxy._path_of("/hubs/1/user/ada/") == "/hubs/1/user/ada/"

    by_path = SharedProxy()
    assert by_path._routespec_to_chp_path("/hubs/1/user/ada/") == "/hubs/1/user/ada"
    assert by_path._routespec_from_chp_path("/hubs/1/user/ada") == "/hubs/1/user/ada/"
