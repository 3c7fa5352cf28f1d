"""What the portal's components share to answer over HTTP: rendering the portal's templates, the one JSON
error shape of their APIs, and letting a page's forms lead to another origin. It knows no component."""

from appliance.web.api_errors import error_status, json_error, json_message
from appliance.web.form_targets import FORM_TARGETS, allow_form_target
from appliance.web.templating import portal_templates, render

__all__ = ["FORM_TARGETS", "allow_form_target", "error_status", "json_error", "json_message", "portal_templates",
           "render"]
