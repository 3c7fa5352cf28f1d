"""Rendering the portal's Jinja templates (webui/templates)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates


def render(request: Request, template: str, status_code: int = 200, **context: object) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context, status_code=status_code)
