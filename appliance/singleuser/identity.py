"""Who a member's server is serving, through their hub's outages.

JupyterHub's single-user server asks its hub about a visitor's token every few seconds (HubAuth.cache_max_age,
hub/access.py), and fails the request when the hub cannot answer: while the hub restarts, or its database
does. The member's open JupyterLab then fails to save for no fault of the server or the storage. Here the
hub's last answer about a token holds through such an outage, for up to KEEP_THROUGH_OUTAGE_S after it was
given. A token the hub refused is refused at once, as before: no access that ended outlives the hub's
answer. The hub's spawner arguments name ``HubIdentityProvider`` (hub/hubconfig.py).

Builds on ``HubOAuth._check_hub_authorization`` (tests/unit/singleuser pins its signature).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from jupyterhub.services.auth import HubOAuth
from jupyterhub.singleuser.extension import JupyterHubIdentityProvider
from tornado.web import HTTPError
from traitlets import default

KEEP_THROUGH_OUTAGE_S = 120.0  # longer than a hub's or PostgreSQL's restart
KEPT_TOKENS = 1000  # the member's own browsers and tokens: a few; the oldest answers go first


class HubOAuthThroughOutages(HubOAuth):
    """HubOAuth whose answers about a token hold while the hub cannot give one (a 5xx, or no connection)."""

    clock = staticmethod(time.monotonic)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._answers: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    async def _check_hub_authorization(self, url: str, api_token: str, cache_key: str | None = None,
                                       use_cache: bool = True) -> dict[str, Any] | None:
        try:
            model: dict[str, Any] | None = await super()._check_hub_authorization(
                url, api_token, cache_key=cache_key, use_cache=use_cache)
        except HTTPError as error:
            kept = self._answers.get(cache_key) if cache_key else None
            if error.status_code >= 500 and kept and self.clock() - kept[0] <= KEEP_THROUGH_OUTAGE_S:
                self.log.warning("the hub cannot say who holds a token now (%s); its answer of %.0f s ago holds",
                                 error.log_message, self.clock() - kept[0])
                return kept[1]
            raise
        if cache_key is not None:
            self._answers.pop(cache_key, None)
            if model is not None:
                self._answers[cache_key] = (self.clock(), model)
                while len(self._answers) > KEPT_TOKENS:
                    self._answers.popitem(last=False)
        return model


class HubIdentityProvider(JupyterHubIdentityProvider):
    @default("hub_auth")
    def _default_hub_auth(self) -> HubOAuth:
        return HubOAuthThroughOutages(parent=self)
