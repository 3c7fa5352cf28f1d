"""The identity component's routes on the portal origin."""

from __future__ import annotations

from starlette.routing import Route

from appliance.identity.endpoints import OAuthEndpoints
from appliance.identity.pages import IdentityPages
from appliance.identity.service import Identity


def routes(identity: Identity, pages: IdentityPages) -> list[Route]:
    oauth = OAuthEndpoints(identity, pages)
    return [
        Route("/login", pages.login, methods=["GET", "POST"], name="login"),
        Route("/logout", pages.logout, methods=["POST"], name="logout"),
        Route("/account/password", pages.change_password, methods=["GET", "POST"], name="password"),
        Route("/welcome/{secret}", pages.welcome, methods=["GET", "POST"], name="welcome"),
        Route("/oauth/authorize", oauth.authorize, methods=["GET", "POST"], name="authorize"),
        Route("/oauth/token", oauth.token, methods=["POST"], name="token"),
        Route("/oauth/userinfo", oauth.userinfo, methods=["GET", "POST"], name="userinfo"),
        Route("/oauth/revoke", oauth.revoke, methods=["POST"], name="revoke"),
        Route("/oauth/jwks", oauth.jwks, name="jwks"),
        Route("/.well-known/openid-configuration", oauth.openid_configuration, name="openid_configuration"),
    ]
