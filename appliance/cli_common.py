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


@contextlib.contextmanager
def database(options: Options) -> Iterator[Engine]:
    """The appliance's database, with an unreachable one turned into a message saying what to do."""
    from psycopg.errors import UndefinedTable
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from appliance.db import make_engine
    from appliance.postgres import database_url

    config = options.load()
    engine = make_engine(database_url(config.home, config.postgres), pool_size=1)
    try:
        yield engine
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ApplianceError(f"cannot reach the appliance's database ({reason}).",
                             hint="Is the appliance running? Start it with `appliance up`.") from None
    except ProgrammingError as exc:
        if not isinstance(exc.orig, UndefinedTable):
            raise
        raise ApplianceError("the database has not been migrated to this version of appliance yet.",
                             hint="Run `appliance db upgrade` (or restart the appliance, which migrates).") from None
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


def run_on_database(options: Options, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` (which opens pools on the appliance's database) in an event loop, with an unreachable
    or unmigrated database turned into what to do. A database that is not there is said at once: a pool
    would retry it for its whole timeout (10 s), logging each attempt."""
    import psycopg

    with database(options) as engine, engine.connect():
        pass
    try:
        return asyncio.run(work())
    except psycopg.errors.UndefinedTable:
        raise ApplianceError("the database has not been migrated to this version of appliance yet.",
                             hint="Run `appliance db upgrade` (or restart the appliance, which migrates).") from None
    except (psycopg.OperationalError, TimeoutError) as exc:
        raise ApplianceError(f"cannot reach the appliance's database ({type(exc).__name__}).",
                             hint="Is the appliance running? Start it with `appliance up`.") from None


def read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise ApplianceError("no password on standard input.")
    return password


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))
