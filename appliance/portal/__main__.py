"""Run the portal (the supervisor starts it as `python -m appliance.portal`)."""

from __future__ import annotations

import uvicorn

from appliance.config import load_config
from appliance.portal.app import make_app


def main() -> None:
    config = load_config()
    uvicorn.run(
        make_app(config),
        host=config.portal.host,
        port=config.portal.port,
        proxy_headers=True,
        log_level="info",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
