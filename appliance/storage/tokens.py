"""Storage tokens: signed by the appliance, naming one member, expiring.

A token is an HS256 JWT with the audience "appliance-storage". The user server holds it (the
member's own code can read it), and it reaches that member's namespace and nothing else.
"""

from __future__ import annotations

import time

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jwt import JWTClaimsRegistry

from appliance.storage.errors import Unauthorized

AUDIENCE = "appliance-storage"


class StorageTokens:
    def __init__(self, secret: str, lifetime_s: int):
        self._key = OctKey.import_key(secret.encode())
        self.lifetime_s = lifetime_s
        self._claims = JWTClaimsRegistry(aud={"essential": True, "value": AUDIENCE}, sub={"essential": True},
                                         exp={"essential": True})

    def mint(self, username: str, lifetime_s: int | None = None) -> str:
        now = int(time.time())
        claims = {"sub": username, "aud": AUDIENCE, "iat": now, "exp": now + (lifetime_s or self.lifetime_s)}
        return jwt.encode({"alg": "HS256"}, claims, self._key, algorithms=["HS256"])

    def verify(self, token: str) -> str:
        """The member the token names; Unauthorized if it is forged, expired or not a storage token."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=["HS256"])
            self._claims.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise Unauthorized(f"the storage token is not valid ({type(exc).__name__}); "
                               "restart your server from the hub to get a new one.") from None
        return str(decoded.claims["sub"])
