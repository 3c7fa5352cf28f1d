"""Where the render host is and how requests reach it: the front proxy's routes, the certificate, the
supervisor's renderer (application/children.py, hub/addresses.py)."""

from __future__ import annotations

from pathlib import Path

from appliance.application.children import portal_routes, renderer_spec
from appliance.config import load_config
from appliance.proxy import ProxySettings, check_certificate_names
from tests.tls import make_certificates

DOMAIN = {"APPLIANCE_PORTAL_PUBLIC_URL": "https://lab.example.org",
          "APPLIANCE_HUBS_PUBLIC_URL": "https://hub.lab.example.org", "APPLIANCE_PROXY_PORT": "443"}


def test_the_front_proxy_sends_the_render_host_to_the_portal_where_members_have_hosts(tmp_path: Path) -> None:
    trial = load_config(home=tmp_path, environ={})
    assert trial.addresses.render_origin == "http://0-render.hub.lab.localhost:8001"
    assert portal_routes(trial) == [("/lab.localhost", "http://127.0.0.1:8000"),
                                    ("/0-render.hub.lab.localhost", "http://127.0.0.1:8000")]
    domain = load_config(home=tmp_path, environ=DOMAIN)
    assert domain.addresses.render_origin == "https://0-render.hub.lab.example.org"
    assert portal_routes(domain)[1] == ("/0-render.hub.lab.example.org", "http://127.0.0.1:8000")


def test_on_a_bare_address_renders_are_on_the_portals_origin_and_need_no_route(tmp_path: Path) -> None:
    config = load_config(home=tmp_path, environ={"APPLIANCE_PORTAL_PUBLIC_URL": "http://192.0.2.7:8000"})
    assert config.addresses.render_origin == config.addresses.portal_origin == "http://192.0.2.7:8000"
    assert portal_routes(config) == [] and config.addresses.render_route is None


def test_the_members_wildcard_certificate_covers_the_render_host(tmp_path: Path) -> None:
    config = load_config(home=tmp_path, environ=DOMAIN)
    cert, key = make_certificates(tmp_path, config.addresses.certificate_hosts)[1:]
    check_certificate_names(ProxySettings(tls_cert=str(cert), tls_key=str(key)), ["0-render.hub.lab.example.org"])


def test_the_renderer_is_supervised_by_its_heartbeat(tmp_path: Path) -> None:
    spec = renderer_spec(load_config(home=tmp_path, environ={}))
    assert spec.argv[1:] == ["-m", "appliance.application.renderer"]
    assert spec.ready is not None and spec.health is not None and not spec.ports
