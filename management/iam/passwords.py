"""Salted, slow password hashes (PBKDF2-HMAC-SHA256, as CloudStack's PBKDF2 encoder)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 100_000
SCHEME = "pbkdf2_sha256"


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{SCHEME}${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != SCHEME:
        return False
    computed = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(computed, base64.b64decode(digest))


def new_api_keypair() -> tuple[str, str]:
    """CloudStack-shaped keys: URL-safe base64 of 64 random bytes each (86 characters)."""
    return (base64.urlsafe_b64encode(secrets.token_bytes(64)).decode().rstrip("="),
            base64.urlsafe_b64encode(secrets.token_bytes(64)).decode().rstrip("="))


def new_session_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(20)).decode().rstrip("=")
