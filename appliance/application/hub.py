"""Hub N's process (the supervisor starts it as `python -m appliance.application.hub N`): JupyterHub configured
from the appliance's configuration."""

from __future__ import annotations

import os
import sys

from appliance.config import load_config
from appliance.hub.hubconfig import hub_config


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: python -m appliance.application.hub HUB_ID")
    from appliance.hub.app import ApplianceHub

    traitlets_config = hub_config(load_config(), sys.argv[1], os.environ.get("APPLIANCE_HUB_CREDENTIAL", ""))
    ApplianceHub.instance(config=traitlets_config)  # launch_instance() picks up this instance
    ApplianceHub.launch_instance([])


if __name__ == "__main__":
    main()
