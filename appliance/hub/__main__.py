"""Run hub N (the supervisor starts it as `python -m appliance.hub N`)."""

from __future__ import annotations

import os
import sys

from appliance.config import load_config
from appliance.hub.hubconfig import hub_config


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: python -m appliance.hub HUB_ID")
    from appliance.hub.app import ApplianceHub

    config = load_config()
    traitlets_config = hub_config(config, sys.argv[1], os.environ.get("APPLIANCE_HUB_CREDENTIAL", ""))
    ApplianceHub.instance(config=traitlets_config)  # launch_instance() picks up this instance
    ApplianceHub.launch_instance([])


if __name__ == "__main__":
    main()
