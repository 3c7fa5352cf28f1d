"""What the `appliance` commands share: their options, the appliance's database with an unreachable or
unmigrated one turned into what to do, the recorder of their changes in the audit log, and JSON output.
The command modules (cli_*.py) import this, never each other; cli.py gathers them into one command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from appliance.config import Config, load_config
from appliance.errors import ApplianceError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from appliance.audit import Audit, Record

T = TypeVar("T")


@dataclass
class Options:
    home: Path | None
    config_file: Path | None
    debug: bool

    def load(self, **overrides: Any) -> Config:
        return load_config(home=self.home, file=self.config_file,
                           overrides={k: v for k, v in overrides.items() if v is not None})


def unreachable(reason: str) -> ApplianceError:
    return ApplianceError(f"cannot reach the appliance's database ({reason}).",
                          hint="Is the appliance running? Start it with `appliance up`.")


def not_migrated() -> ApplianceError:
    return ApplianceError("the database has not been migrated to this version of appliance yet.",
                          hint="Run `appliance db upgrade` (or restart the appliance, which migrates).")


@contextlib.contextmanager
def database(options: Options) -> Iterator[Engine]:
    """The appliance's database, with an unreachable one turned into a message saying what to do. It is
    reached once before the command's work starts: a pool opened later (run_on_database) would retry a
    database that is not there for its whole timeout (10 s), logging each attempt."""
    from psycopg.errors import UndefinedTable
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from appliance.db import make_engine
    from appliance.postgres import database_url

    config = options.load()
    if config.nodes.is_hub_node:  # its role may read its hubs' heartbeats, nothing of the portal's
        raise ApplianceError(f"this machine is a hub node of the portal at {config.nodes.portal_url}: people, "
                             "notebooks, the hubs, the gallery and the audit log are the portal's.",
                             hint="Run this command on the portal's machine.")
    engine = make_engine(database_url(config.home, config.postgres), pool_size=1)
    try:
        engine.connect().close()  # back to the engine's pool, for the command's first statement
        yield engine
    except OperationalError as exc:
        raise unreachable(str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)) from None
    except ProgrammingError as exc:
        if not isinstance(exc.orig, UndefinedTable):
            raise
        raise not_migrated() from None
    finally:
        engine.dispose()


@contextlib.contextmanager
def audit_log(options: Options) -> Iterator[Audit]:
    """The audit log of the appliance's database; what was recorded is written before it closes."""
    from appliance.audit import Audit

    config = options.load()
    with database(options) as engine:
        audit = Audit(engine, config.audit)
        try:
            yield audit
        finally:
            audit.recorder.close()


@contextlib.contextmanager
def cli_recorder(options: Options) -> Iterator[Record]:
    """``record`` for a command's changes, by ``cli:<system user>`` from ``local``: call it as
    ``record(actor, action, target, detail)`` with ``appliance.audit.cli_actor()``."""
    with audit_log(options) as audit:
        yield audit.record


def run_on_database(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` (which opens pools on the appliance's database) in an event loop, with an unreachable
    or unmigrated database turned into what to do. Call it inside ``database`` (``cli_recorder`` is), which
    has found the database there."""
    import psycopg

    try:
        return asyncio.run(work())
    except psycopg.errors.UndefinedTable:
        raise not_migrated() from None
    except (psycopg.OperationalError, TimeoutError) as exc:
        raise unreachable(type(exc).__name__) from None


def read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise ApplianceError("no password on standard input.")
    return password


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))
