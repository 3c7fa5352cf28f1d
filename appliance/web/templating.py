"""Rendering the portal's Jinja templates (webui/templates)."""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from starlette.datastructures import URL, URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

URL_PATHS_KEPT = 1024  # routes' paths with their parameters (e.g. each static file): a page names a few dozen


def portal_templates(directory: str) -> Jinja2Templates:
    """The portal's templates, whose ``url_for`` works out each route's path once: Starlette's looks through
    the portal's ~100 routes for it on every call, raising NoMatchFound for each that is not it (0.18 ms a
    call; base.html makes 8, about 1.5 ms of every page)."""
    templates = Jinja2Templates(directory=directory)

    paths: dict[tuple[int, str, tuple[tuple[str, Any], ...]], URLPath] = {}  # by router (the app's lifetime)

    @pass_context
    def url_for(context: dict[str, Any], name: str, /, **path_params: Any) -> URL:
        request: Request = context["request"]
        router = request.scope["router"]
        key = (id(router), name, tuple(sorted(path_params.items())))
        path = paths.get(key)
        if path is None:
            if len(paths) >= URL_PATHS_KEPT:
                paths.clear()
            path = paths[key] = router.url_path_for(name, **path_params)
        return path.make_absolute_url(base_url=request.base_url)

    templates.env.globals["url_for"] = url_for
    return templates


def render(request: Request, template: str, status_code: int = 200, **context: object) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context, status_code=status_code)
