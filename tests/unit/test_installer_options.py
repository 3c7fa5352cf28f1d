"""install.sh refuses options that do not go together before it changes anything (exit 2, the fix named)."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize(("options", "said"), [
    (["--certbot", "rfc2136"], "--hub-host, --tls-cert, --tls-key and --certbot go with --domain NAME"),
    (["--domain", "lab.test", "--certbot", "rfc2136", "--tls-cert", "/etc/hostname"],
     "--certbot gets the certificate: leave out --tls-cert and --tls-key"),
    (["--domain", "lab.test", "--certbot", "../evil"], "--certbot ../evil: give a DNS plugin's name"),
    (["--domain", "lab.test", "--certbot", "rfc2136", "--certbot-wait", "1m"], "--certbot-wait 1m: give whole seconds"),
    (["--domain", "lab.test"], "or --certbot PLUGIN to get them"),
])
def test_certbot_options_that_do_not_go_together_are_refused_first(options: list[str], said: str) -> None:
    refused = subprocess.run(["bash", str(ROOT / "installer" / "install.sh"), *options], capture_output=True,
                             text=True, timeout=30, env={"PATH": "/usr/bin:/bin", "APPLIANCE_INSTALL_LOG": "/dev/null"})
    assert refused.returncode == 2 and said in refused.stderr, refused.stderr
    assert refused.stdout == ""  # not one step taken
