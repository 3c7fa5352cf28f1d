"""A member's server (the hubs' spawners run `python -m appliance.application.singleuser`): JupyterHub's own
single-user server, started after this package's deferred imports (appliance/deferred_imports.py)."""

from __future__ import annotations

from jupyterhub.singleuser import main

if __name__ == "__main__":
    main()
