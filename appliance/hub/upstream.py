"""JupyterHub's internals that the appliance relies on, in one place.

tests/unit/hub/test_upstream.py fails when a JupyterHub upgrade changes any of them:

- A hub login cookie holds the user's ``cookie_id`` (``orm.User.cookie_id``), which every request looks
  up (``BaseHandler._user_for_cookie``): a new ``cookie_id`` makes every hub login cookie of the user,
  in every browser, worthless. (JupyterHub's own LogoutHandler only clears one browser's cookies.)
- A user's API tokens and the OAuth tokens their browsers hold for their servers (the JupyterLab's
  ``jupyterhub-user-<name>`` cookie carries one) are all ``orm.APIToken`` rows of ``orm.User.api_tokens``.
- A running server's own token is ``Spawner.api_token`` (empty after the hub restarted; its row's
  note is then the way to know it: "Server at <the server's base_url>").
- ``JupyterHub.db``, ``JupyterHub.users`` (looked up with an ``orm.User``), ``JupyterHub.hub_prefix`` and
  ``JupyterHub.handlers`` (tornado's list, with the catch-all ``api/(.*)`` 404 last).
- ``JupyterHub._periodic_callbacks`` (name → tornado PeriodicCallback, all stopped by JupyterHub.stop) and
  ``JupyterHub._service_map`` (what ``Proxy.check_routes`` takes with the users).

- ``BaseHandler.prepare`` takes any error of ``get_current_user`` (a database that does not answer, too) for no
  user: the request is refused 403. ``answer_database_errors`` turns that case into a 503.

Overridden in hub/app.py, and checked by the same test: ``ConfigurableHTTPProxy._routespec_to_chp_path``
and ``_routespec_from_chp_path`` (routespec ↔ the proxy API's path), ``SystemdSpawner._expand_user_vars``
(the {USERNAME} templates of a unit's directories).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from jupyterhub import orm
from jupyterhub.handlers.base import BaseHandler
from jupyterhub.utils import new_token, url_path_join
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from tornado import web
from tornado.ioloop import PeriodicCallback


def find_user(hub: Any, name: str) -> Any | None:
    """The hub's User for ``name``, or None if it never signed in here."""
    orm_user = orm.User.find(hub.db, name)
    return hub.users[orm_user] if orm_user is not None else None


def server_tokens(db: Session, user: Any) -> list[orm.APIToken]:
    """The own tokens of the user's running servers (what a server checks its visitors with)."""
    found = []
    for spawner in user.spawners.values():
        if not spawner.active or spawner.server is None:
            continue
        if spawner.api_token:
            row = orm.APIToken.find(db, spawner.api_token)
            found.extend([row] if row is not None else [])
        else:  # the hub restarted since the spawn: known by the note JupyterHub gave it
            note = f"Server at {spawner.server.base_url}"
            found.extend(token for token in user.orm_user.api_tokens if token.note == note)
    return found


def is_server_token(db: Session, user: Any, token: orm.APIToken | None) -> bool:
    return token is not None and any(token.id == own.id for own in server_tokens(db, user))


def sign_out_everywhere(db: Session, user: Any, keep: list[orm.APIToken]) -> int:
    """Invalidate every hub login cookie of the user and delete their API and OAuth tokens but ``keep``;
    returns how many tokens went."""
    user.orm_user.cookie_id = new_token()
    kept = {token.id for token in keep}
    revoked = [token for token in user.orm_user.api_tokens if token.id not in kept]
    for token in revoked:
        db.delete(token)
    db.commit()
    return len(revoked)


def add_api_handler(hub: Any, path: str, handler: type, kwargs: dict[str, Any]) -> None:
    """Serve ``handler`` at <hub prefix>/api/<path>, ahead of the API's catch-all 404."""
    hub.handlers.insert(0, (url_path_join(hub.hub_prefix, "api", path), handler, kwargs))


def every(hub: Any, interval_s: float, callback: Callable[[], Awaitable[None]]) -> None:
    """Run ``callback`` every ``interval_s`` among the hub's own periodic callbacks: JupyterHub stops them
    all when it stops, and ``stop_periodic`` stops them at once."""
    periodic = PeriodicCallback(callback, 1000 * interval_s)
    periodic.start()
    hub._periodic_callbacks[callback.__name__] = periodic


def stop_periodic(hub: Any) -> None:
    for periodic in hub._periodic_callbacks.values():
        periodic.stop()


async def check_routes(hub: Any) -> None:
    """JupyterHub's own route check: every running server and service has its route in the proxy."""
    await hub.proxy.check_routes(hub.users, hub._service_map)


class DatabaseErrorsAnswered503:
    """Mixed into every JupyterHub handler (``answer_database_errors``). A request whose user could not be
    looked up because the hub's database did not answer (a PostgreSQL restart) is answered 503, not refused
    403 as nobody's: a member's server takes a 403 from the hub's API for a revoked token and signs them out."""

    _database_error: SQLAlchemyError | None = None

    async def get_current_user(self) -> Any:
        try:
            return await super().get_current_user()  # type: ignore[misc]
        except SQLAlchemyError as error:
            self._database_error = error
            raise

    async def prepare(self) -> None:
        await super().prepare()  # type: ignore[misc]
        if self._database_error is not None:
            raise web.HTTPError(503, "The hub's database is not answering (it may be restarting); try again in a "
                                     "moment.")


def answer_database_errors(hub: Any) -> None:
    """Give every JupyterHub handler in the hub's table DatabaseErrorsAnswered503 (call after init_handlers)."""
    answered: dict[type, type] = {}

    def with_mixin(handler: Any) -> Any:
        if not (isinstance(handler, type) and issubclass(handler, BaseHandler)):
            return handler
        if handler not in answered:
            answered[handler] = type(handler.__name__, (DatabaseErrorsAnswered503, handler), {})
        return answered[handler]

    hub.handlers = [(pattern, with_mixin(handler), *rest) for pattern, handler, *rest in hub.handlers]
