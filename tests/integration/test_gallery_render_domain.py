"""The render host on a lab's own domain: 0-render.hub.lab.test over HTTPS, under the members' wildcard
certificate, through the front proxy (as `install.sh --domain` sets it up, on a loopback port here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.domain import HUB_HOST, Domain, on_domain
from tests.integration.render_queue import connect, finished, notebook, queue, render_links


@pytest.fixture(scope="module")
def domain() -> Iterator[Domain]:
    yield from on_domain()


def test_a_render_is_served_over_https_on_the_render_host_sandboxed_and_framed_by_the_portal_only(
        domain: Domain) -> None:
    appliance = domain.appliance
    with connect(appliance) as db:
        [(slug, _, job)] = queue(appliance, db, notebook())
        assert finished(appliance, db, job)[0] == "done"
    links = render_links(appliance)
    render_origin = f"https://0-render.{HUB_HOST}:{appliance.proxy_port}"
    assert links.origin == render_origin
    with domain.client() as client:
        page = client.get(links.url(slug, 1))
        assert page.status_code == 200 and "tex-chtml-full.js" in page.text
        policy = page.headers["content-security-policy"]
        assert policy.startswith("sandbox allow-scripts;") and f"script-src {render_origin} " in policy
        assert f"frame-ancestors {domain.portal}" in policy
        fonts = f"{render_origin}/gallery/assets/mathjax/es5/output/chtml/fonts/woff-v2"
        font = client.get(f"{fonts}/MathJax_Main-Regular.woff")
        assert font.status_code == 200 and font.headers["access-control-allow-origin"] == "*"
        for path in ("/", "/login", "/api/status", "/hubs/1/hub/api/"):
            assert client.get(render_origin + path).status_code == 404, path
    assert not [cookie for cookie in domain.set_cookies if cookie.startswith(f"0-render.{HUB_HOST}")]
