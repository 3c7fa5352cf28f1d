"""The RS256 key that signs id_tokens: generated once, kept in <home>/secrets (mode 0600)."""

from __future__ import annotations

import os
from typing import Any

from joserfc.jwk import RSAKey

from appliance.home import Home

KEY_FILE = "oidc-signing-key.pem"


def ensure_signing_key(home: Home) -> bool:
    """Generate the signing key unless it exists. Returns True if it was created now."""
    path = home.secrets_dir / KEY_FILE
    if path.exists():
        return False
    home.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = RSAKey.generate_key(2048, private=True).as_pem(private=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return True


def load_signing_key(home: Home) -> RSAKey:
    pem = (home.secrets_dir / KEY_FILE).read_bytes()
    key = RSAKey.import_key(pem)
    return RSAKey.import_key(pem, {"kid": key.thumbprint(), "use": "sig", "alg": "RS256"})


def public_jwks(key: RSAKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False)]}
