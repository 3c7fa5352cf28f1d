"""appliance/hub/upstream.py on JupyterHub's own ORM, and the internals it relies on: a test here fails
when a JupyterHub upgrade changes one of them (then mend upstream.py, and only it)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from jupyterhub import orm
from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.app import JupyterHub
from jupyterhub.handlers.base import BaseHandler
from jupyterhub.proxy import ConfigurableHTTPProxy, Proxy
from jupyterhub.spawner import Spawner
from jupyterhub.user import User
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker
from systemdspawner import SystemdSpawner
from tornado import web
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from appliance.hub import upstream

SERVER_URL = "/hubs/1/user/ada/"


@pytest.fixture
def db() -> Iterator[Session]:
    session: Session = orm.new_session_factory("sqlite:///:memory:")()
    session.add_all([orm.OAuthClient(identifier="jupyterhub"), orm.OAuthClient(identifier="jupyterhub-user-ada")])
    session.commit()
    yield session
    session.close()


def member(db: Session, api_token_known: bool) -> tuple[Any, dict[str, str]]:
    """A hub user (as upstream.py sees one) with a running server, a token of their own and a JupyterLab
    OAuth token; returns it and the tokens by role."""
    orm_user = orm.User(name="ada")
    db.add(orm_user)
    db.commit()
    tokens = {"server": orm_user.new_api_token(note=f"Server at {SERVER_URL}", scopes=[]),
              "personal": orm_user.new_api_token(note="mine", scopes=[]),
              "lab": orm_user.new_api_token(client_id="jupyterhub-user-ada", scopes=[])}
    spawner = SimpleNamespace(active=True, server=SimpleNamespace(base_url=SERVER_URL),
                              api_token=tokens["server"] if api_token_known else "")
    return SimpleNamespace(name="ada", orm_user=orm_user, spawners={"": spawner}), tokens


@pytest.mark.parametrize("api_token_known", [True, False], ids=["spawned-by-this-process", "after-a-hub-restart"])
def test_signing_out_everywhere_keeps_only_the_servers_own_token_and_changes_the_cookie_id(
        db: Session, api_token_known: bool) -> None:
    user, tokens = member(db, api_token_known)
    cookie_id = user.orm_user.cookie_id
    keep = upstream.server_tokens(db, user)
    assert [token.note for token in keep] == [f"Server at {SERVER_URL}"]
    assert upstream.sign_out_everywhere(db, user, keep) == 2
    assert user.orm_user.cookie_id != cookie_id
    assert orm.User.find(db, "ada").cookie_id == user.orm_user.cookie_id  # committed
    assert orm.APIToken.find(db, tokens["server"]) is not None
    assert orm.APIToken.find(db, tokens["personal"]) is None and orm.APIToken.find(db, tokens["lab"]) is None
    assert upstream.is_server_token(db, user, orm.APIToken.find(db, tokens["server"]))


def test_only_a_running_servers_own_token_counts_as_one(db: Session) -> None:
    user, tokens = member(db, api_token_known=True)
    assert not upstream.is_server_token(db, user, orm.APIToken.find(db, tokens["personal"]))
    assert not upstream.is_server_token(db, user, None)
    user.spawners[""].active = False
    assert not upstream.is_server_token(db, user, orm.APIToken.find(db, tokens["server"]))


def test_the_jupyterhub_internals_upstream_py_relies_on_are_still_there() -> None:
    # a hub login cookie is the user's cookie_id, looked up on every request
    assert "cookie_id" in orm.User.__table__.columns
    assert "orm.User.cookie_id == cookie_id" in inspect.getsource(BaseHandler._user_for_cookie)
    # API and OAuth tokens are the user's APIToken rows, with a note; a server's own is noted so
    assert {"note", "client_id", "user_id"} <= set(orm.APIToken.__table__.columns.keys())
    assert orm.User.api_tokens.property.mapper.class_ is orm.APIToken
    assert 'note = f"Server at {base_url}"' in inspect.getsource(User.spawn)
    assert "api_token" in Spawner.class_traits() and isinstance(Spawner.active, property)
    # the hub's session, users, prefix and handler list, and the catch-all API 404 that ours go before
    assert {"hub_prefix", "handlers", "users"} <= set(JupyterHub.class_traits())
    # the hub's periodic callbacks, all stopped when it stops, and the services the route check takes
    assert {"_periodic_callbacks", "_service_map"} <= set(JupyterHub.class_traits())
    assert "for pc in self._periodic_callbacks.values():" in inspect.getsource(JupyterHub.stop)
    assert list(inspect.signature(Proxy.check_routes).parameters)[:3] == ["self", "user_dict", "service_dict"]


def test_the_methods_hub_app_overrides_still_do_what_it_builds_on() -> None:
    proxy = ConfigurableHTTPProxy(public_url="http://127.0.0.1:8000", auth_token="x")
    assert proxy._routespec_to_chp_path("/hubs/1/user/ada/") == "/hubs/1/user/ada"
    assert proxy._routespec_from_chp_path("/hubs/1/user/ada") == "/hubs/1/user/ada/"
    spawner = SimpleNamespace(user=SimpleNamespace(name="ada", id=7))
    assert SystemdSpawner._expand_user_vars(spawner, "/var/lib/{USERNAME}") == "/var/lib/ada"
    assert "apihandlers.base.API404" in inspect.getsource(JupyterHub.init_handlers)
    assert "self.db = self.session_factory()" in inspect.getsource(JupyterHub.init_db)


class Who(APIHandler):
    async def get(self) -> None:
        self.finish({"name": getattr(self.current_user, "name", None)})


async def prepared(handler_class: type[APIHandler]) -> APIHandler:
    """A request with a token, prepared by ``handler_class`` on a hub whose database cannot be opened."""
    broken: Session = sessionmaker(create_engine("sqlite:////nonexistent/hub.sqlite"))()
    app = web.Application([(r"/who", handler_class)], db=broken, hub=SimpleNamespace(base_url="/hub/"))
    request = HTTPServerRequest(start_line=RequestStartLine("GET", "/who", "HTTP/1.1"), connection=mock.Mock(),
                                headers=HTTPHeaders({"Host": "127.0.0.1", "Authorization": "token a-token"}))
    handler = handler_class(app, request)
    await handler.prepare()
    return handler


async def test_a_database_error_while_looking_up_the_user_is_a_503_not_nobody() -> None:
    # upstream: the lookup's error is taken for no user (then a 403), which answer_database_errors mends
    assert (await prepared(Who)).current_user is None
    hub = SimpleNamespace(handlers=[(r"/who", Who), (r"/static", web.StaticFileHandler, {"path": "/"})])
    upstream.answer_database_errors(hub)
    answered = hub.handlers[0][1]
    assert issubclass(answered, Who) and hub.handlers[1][1] is web.StaticFileHandler
    with pytest.raises(web.HTTPError) as refused:
        await prepared(answered)
    assert refused.value.status_code == 503 and "database is not answering" in str(refused.value.log_message)
