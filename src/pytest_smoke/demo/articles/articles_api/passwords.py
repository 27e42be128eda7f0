"""Password hashes: scrypt, stored as ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>``.

Standard library only: the launcher (pytest_smoke/demo/launch.py) loads this file on its own to
seed the user, so the format has one implementation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1
LENGTH = 32


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=LENGTH)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Does ``password`` match ``stored``? False for a malformed ``stored`` too."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


# Checked against when the user does not exist, so that both answers take as long.
DUMMY_HASH = hash_password(secrets.token_hex(8))
