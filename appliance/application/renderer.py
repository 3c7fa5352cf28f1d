"""The gallery's renderer process (the supervisor starts it as `python -m appliance.application.renderer`)."""

from __future__ import annotations

from appliance.config import load_config
from appliance.gallery.renderer import serve
from appliance.postgres import database_url


def main() -> None:
    config = load_config()
    serve(database_url(config.home, config.postgres), config.gallery, config.home.run_dir)


if __name__ == "__main__":
    main()
