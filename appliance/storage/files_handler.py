"""``/files/<path>`` on a member's server (JupyterLab's Download and "Open in New Browser Tab"), read
through the contents manager: the member's files are in the storage, not on the server's disk."""

from __future__ import annotations

from jupyter_server.files.handlers import FilesHandler


class StoredFilesHandler(FilesHandler):
    """jupyter_server's FilesHandler, which reads a file with ``contents_manager.get`` and honours
    ``?download=1``, without the two things it inherits from tornado's StaticFileHandler for files on
    a disk: a root directory to be given (``initialize(path)``, which failed every request with
    "missing 'path'") and an ETag computed from a file's path on that disk."""

    def initialize(self) -> None:  # type: ignore[override]
        """Nothing to set up: the files have no root directory here."""

    def compute_etag(self) -> str | None:
        return None
