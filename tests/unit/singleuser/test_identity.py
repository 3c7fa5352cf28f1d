"""A member's server through their hub's outages (appliance/singleuser/identity.py), against a hub API served
here on loopback: the hub's last answer about a token holds while the hub answers 5xx or not at all, for up
to KEEP_THROUGH_OUTAGE_S; a token the hub refused is refused at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tornado import httpserver, netutil, web

from appliance.singleuser import identity
from appliance.singleuser.identity import HubOAuthThroughOutages

ADA = {"kind": "user", "name": "ada", "admin": False, "groups": [], "scopes": ["access:servers!user=ada"]}


class HubUserAPI(web.RequestHandler):
    def get(self) -> None:
        answer = self.settings["answer"]
        if answer == 200:
            self.finish(ADA)
        else:
            self.set_status(answer)
            self.finish({"status": answer, "message": "the hub's database is not answering"})


class Hub:
    def __init__(self) -> None:
        self.app = web.Application([(r"/hub/api/user", HubUserAPI)], answer=200)
        [self.listener] = netutil.bind_sockets(0, "127.0.0.1")
        self.server = httpserver.HTTPServer(self.app)
        self.server.add_sockets([self.listener])

    def answers(self, status: int) -> None:
        self.app.settings["answer"] = status

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hub/api/"


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    served = Hub()
    yield served
    served.server.stop()
    await served.server.close_all_connections()


async def who(auth: HubOAuthThroughOutages, token: str = "ada-token") -> Any:
    return await auth.user_for_token(token, use_cache=False, sync=False)


async def test_the_hubs_last_answer_holds_while_it_cannot_answer_and_no_longer(hub: Hub) -> None:
    auth = HubOAuthThroughOutages(api_url=hub.api_url, api_token="server-token")
    assert (await who(auth))["name"] == "ada"
    hub.answers(503)  # its database restarting
    assert (await who(auth))["name"] == "ada"
    with pytest.raises(web.HTTPError):  # a token the hub never vouched for is not let in by an outage
        await who(auth, "another-token")
    hub.server.stop()  # the hub restarting: nothing listens
    assert (await who(auth))["name"] == "ada"
    later = auth.clock() + identity.KEEP_THROUGH_OUTAGE_S + 1
    auth.clock = lambda: later  # type: ignore[method-assign]
    with pytest.raises(web.HTTPError):  # not forever
        await who(auth)


async def test_a_token_the_hub_refused_is_refused_at_once_and_through_an_outage(hub: Hub) -> None:
    auth = HubOAuthThroughOutages(api_url=hub.api_url, api_token="server-token")
    assert (await who(auth))["name"] == "ada"
    hub.answers(403)  # access ended: the hub no longer knows the token
    assert await who(auth) is None
    hub.answers(503)
    with pytest.raises(web.HTTPError):
        await who(auth)
