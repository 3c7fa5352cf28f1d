"""PostgreSQL's disk fills up while members save (saver.MEMBERS of them): the saves fail with a 503 that says
so; then a new WAL segment cannot be written either, and PostgreSQL PANICs and stops (as it did by itself under
load). Once the administrator frees space, PostgreSQL comes back (the supervisor restarts it if it stayed down),
the saves work again, and every save a member was told succeeded reads back. The cluster's data lives on a small
tmpfs of its own for the module; a ballast file fills it."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from appliance.db.pool import libpq_url
from tests.faults.saver import MEMBERS, Savers
from tests.faults.test_outages import BACK_WITHIN_S, assert_nobody_moved_and_nothing_lost, placements
from tests.harness import Appliance, make_home, reserve_ports, started
from tests.integration.lab import MemberServer, wait_for
from tests.integration.oauth import Browser

HEADROOM_MB = 64 + MEMBERS  # beyond what the cluster uses at the start: room for WAL segments and the saves
LEFT_FREE_KB = 256  # what the ballast leaves


def on_small_disk(data_dir: Path) -> Path:
    """Move the cluster's data onto a tmpfs of its own, with HEADROOM_MB to spare; the mount point."""
    used_mb = int(subprocess.run(["du", "-sm", str(data_dir)], capture_output=True, text=True, check=True)
                  .stdout.split()[0])
    aside = data_dir.with_name("data.aside")
    data_dir.rename(aside)
    data_dir.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={used_mb + HEADROOM_MB}m,mode=0700", "tmpfs",
                    str(data_dir)], check=True)
    subprocess.run(["cp", "-a", f"{aside}/.", str(data_dir)], check=True)
    stat = aside.stat()
    subprocess.run(["chown", f"{stat.st_uid}:{stat.st_gid}", str(data_dir)], check=True)
    shutil.rmtree(aside)
    return data_dir


def switch_wal(lab: Appliance) -> None:
    """Ask PostgreSQL to go on in a new WAL segment, which it must create: on a full disk, a PANIC."""
    with contextlib.suppress(psycopg.OperationalError), \
            psycopg.connect(libpq_url(lab.database_url()), autocommit=True) as connection:
        connection.execute("SELECT pg_switch_wal()")


@pytest.fixture(scope="module")
def lab() -> Iterator[Appliance]:
    handle = Appliance(make_home(started_once=True), reserve_ports(4)).with_hubs(1)
    mount = on_small_disk(handle.home / "postgres" / "data")
    try:
        with started(handle):
            yield handle
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        shutil.rmtree(handle.home.parent, ignore_errors=True)


def test_a_full_disk_fails_saves_clearly_and_freeing_space_brings_them_back(lab: Appliance) -> None:
    members = [MemberServer(lab, f"d{uuid.uuid4().hex[:8]}") for _ in range(MEMBERS)]
    before = placements(lab, members)
    data_dir = lab.home / "postgres" / "data"
    ballast = data_dir / "ballast"
    postgres_log = lab.home / "logs" / "postgres.log"
    try:
        with Savers(members) as savers:
            savers.wait_for_saves(5)
            free_kb = shutil.disk_usage(data_dir).free // 1024
            subprocess.run(["dd", "if=/dev/zero", f"of={ballast}", "bs=1k", f"count={free_kb - LEFT_FREE_KB}"],
                           check=True, capture_output=True)
            savers.wait_for_failures(5, timeout=60)
            full = savers.failures()
            switch_wal(lab)
            wait_for(lambda: "PANIC:" in postgres_log.read_text(errors="replace"), 30, "PostgreSQL's PANIC")
            ballast.unlink()  # the administrator frees space
            savers.wait_for_saves(5, timeout=BACK_WITHIN_S + 40)  # a PostgreSQL that stopped is restarted
        savers.report("PostgreSQL's disk full, then its WAL too, then space freed")
        told = [(f.status, f.message) for f in full]  # (under load, PostgreSQL may have PANICked meanwhile)
        assert any(status == 503 and "disk is full, so this was not saved" in said for status, said in told), told
        # stopped, PostgreSQL cannot say why: the saves meanwhile are told it does not answer, and to retry
        unclear = [(f.status, f.message) for f in savers.failures() if f.status != 503 or not (
            "disk is full, so this was not saved" in f.message or "database is not answering" in f.message)]
        assert unclear == [], unclear
        assert_nobody_moved_and_nothing_lost(lab, members, savers, before, hubs=("1",))
    finally:
        ballast.unlink(missing_ok=True)
        for member in members:
            member.browser.close()
        Browser.close_all()
