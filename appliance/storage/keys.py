"""Key management: rotating the master key (re-wrapping data keys) and replacing a data key."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, select, update

from appliance.storage.crypto import MasterKeyFile, Sealer, new_data_key
from appliance.storage.errors import NotFound
from appliance.storage.tables import blobs, namespaces

Progress = Callable[[int, int], None]


def rotate_master_key(engine: Engine, key_file: MasterKeyFile, retire_old: bool = False) -> int:
    """Add a new master key and re-wrap every data key with it. Returns how many were re-wrapped.

    Content is not touched: only the small wrapped keys change. With ``retire_old`` the previous
    master keys are removed from the file once nothing needs them.
    """
    key_file.add_new_key()
    keys = key_file.current()
    with engine.begin() as connection:
        rows = connection.execute(select(namespaces.c.id, namespaces.c.wrapped_key).with_for_update()).all()
        for row in rows:
            connection.execute(update(namespaces).where(namespaces.c.id == row.id)
                               .values(wrapped_key=keys.rewrap(row.wrapped_key)))
    if retire_old:
        key_file.retire_old_keys()
    return len(rows)


def reencrypt(engine: Engine, key_file: MasterKeyFile, username: str, progress: Progress | None = None) -> int:
    """Give a member a new data key and re-seal all their files and checkpoints, in one transaction.

    Returns the number of blobs re-sealed (a file and its checkpoints may share one). The portal
    notices the new key on its next call.
    """
    keys = key_file.current()
    with engine.begin() as connection:
        row = connection.execute(select(namespaces.c.id, namespaces.c.wrapped_key)
                                 .where(namespaces.c.username == username).with_for_update()).first()
        if row is None:
            raise NotFound(f"{username} has no stored files.")
        context = f"namespace:{row.id}".encode()
        old, fresh_key = Sealer(keys.unwrap(row.wrapped_key)), new_data_key()
        new = Sealer(fresh_key)
        ids = connection.execute(select(blobs.c.id).where(blobs.c.namespace_id == row.id)).scalars().all()
        for done, blob_id in enumerate(ids, start=1):
            sealed = connection.execute(select(blobs.c.content).where(blobs.c.id == blob_id)).scalar_one()
            connection.execute(update(blobs).where(blobs.c.id == blob_id)
                               .values(content=new.seal(old.open(sealed, context), context)))
            if progress:
                progress(done, len(ids))
        connection.execute(update(namespaces).where(namespaces.c.id == row.id)
                           .values(wrapped_key=keys.wrap(fresh_key)))
    return len(ids)
