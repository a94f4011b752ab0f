"""The demo accounts' two-factor key and current code (synthetic accounts only; published like their password).

make demo-code        # prints the code to type after the demo password; it changes every 30 seconds
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time

# 20 bytes, hex, as django-otp stores a TOTP key.
DEMO_TOTP_KEY_HEX = "4f70656e524f492064656d6f2074776f2d666163"


def demo_totp_key() -> str:
    """The key in the base32 form authenticator apps take."""
    return base64.b32encode(bytes.fromhex(DEMO_TOTP_KEY_HEX)).decode()


def demo_totp_code(now: float | None = None) -> str:
    """RFC 6238 with django-otp's defaults (SHA-1, 30-second steps, 6 digits): no Django needed, so it runs
    beside `make run` without its environment."""
    counter = int((time.time() if now is None else now) // 30)
    digest = hmac.new(bytes.fromhex(DEMO_TOTP_KEY_HEX), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


if __name__ == "__main__":
    print(demo_totp_code())
