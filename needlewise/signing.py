"""Signs the payloads of the bot's own buttons, so typed `/intent{...}` text cannot pose as one.

The action server signs each button payload (`/what_is_dry_needling`) with an HMAC; the web
pages send the token back with the click; the Rasa channel only treats a message as a payload
when its token is valid (needlewise/inputs.py). `make run` gives all servers one random
PAYLOAD_SECRET per start unless the clinic sets its own.
"""

from __future__ import annotations

import hashlib
import hmac

from needlewise.settings import payload_secret

TOKEN_CHARS = 24


def sign(payload: str) -> str:
    return hmac.new(payload_secret(), payload.encode(), hashlib.sha256).hexdigest()[:TOKEN_CHARS]


def verify(payload: str, token: object) -> bool:
    return isinstance(token, str) and hmac.compare_digest(sign(payload), token)
