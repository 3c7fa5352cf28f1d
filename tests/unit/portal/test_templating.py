"""The portal templates' url_for: Starlette's answers, each route's path worked out once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from appliance.web import portal_templates

PAGE = "{{ url_for('static', path='/app.css') }} {{ url_for('person', name='ada lovelace') }}"


class CountingMount(Mount):
    """A Mount that counts how often the router asks it for a path."""

    asked = 0

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        CountingMount.asked += 1
        return super().url_path_for(name, **path_params)


async def test_url_for_answers_as_starlettes_and_looks_each_route_up_once(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(PAGE)
    templates = portal_templates(str(tmp_path))

    starlettes = Jinja2Templates(directory=str(tmp_path))

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "page.html")

    async def starlettes_page(request: Request) -> Response:
        return starlettes.TemplateResponse(request, "page.html")

    async def person(request: Request) -> Response:
        return Response("")

    app = Starlette(routes=[Route("/page", page), Route("/starlettes", starlettes_page),
                            Route("/people/{name}", person, name="person"),
                            CountingMount("/static", StaticFiles(directory=str(tmp_path)), name="static")])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://lab.localhost:8000") as http:
        first = (await http.get("/page")).text
        assert first == (await http.get("/starlettes")).text
        assert first.startswith("http://lab.localhost:8000/static/app.css http://lab.localhost:8000/people/ada")
        asked = CountingMount.asked
        assert (await http.get("/page")).text == first
        other_host = (await http.get("/page", headers={"Host": "127.0.0.1:8000"})).text
        assert other_host == first.replace("lab.localhost", "127.0.0.1")
        assert CountingMount.asked == asked  # the paths were kept; only the host is the request's
