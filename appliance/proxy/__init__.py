"""The front proxy: configurable-http-proxy on the hub origin, with its API on loopback.

Until hubs register routes, every request gets the "no hub yet" page from webui/proxy-errors
(served by the proxy itself for its 404, so nothing of the portal is exposed on the hub origin).
"""

from appliance.proxy.child import TOKEN_SECRET, api_url, keeping_routes, proxy_spec
from appliance.proxy.command import ProxyNotFound, check_node, find_proxy_command
from appliance.proxy.settings import CHP, ProxySettings
from appliance.proxy.tls import STRICT_TRANSPORT_SECURITY, check_certificate_names, check_tls_files

__all__ = ["CHP", "STRICT_TRANSPORT_SECURITY", "TOKEN_SECRET", "ProxyNotFound", "ProxySettings", "api_url",
           "check_certificate_names", "check_node", "check_tls_files", "find_proxy_command", "keeping_routes",
           "proxy_spec"]
