"""API-key request signatures, versions 2 and 3 (CloudStack's ApiServer.verifyRequest)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

from management.api.native.params import parse_tzdate

SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-*_")


def java_encode(value: str, keep_tilde: bool = False) -> str:
    """java.net.URLEncoder.encode(value, "UTF-8") with '+' turned into '%20'."""
    out = []
    for byte in value.encode("utf-8", "surrogatepass"):
        if byte in SAFE or (keep_tilde and byte == 0x7E):
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("%20")
        else:
            out.append("%%%02X" % byte)
    return "".join(out)


def string_to_sign(params: dict[str, str], keep_tilde: bool = False) -> str:
    """Every parameter but ``signature``, sorted by the name as received, then lower-cased."""
    pairs = sorted((k, v) for k, v in params.items() if k.lower() != "signature")
    return "&".join(f"{k}={java_encode(v, keep_tilde)}" for k, v in pairs).lower()


def sign(params: dict[str, str], secret: str, keep_tilde: bool = False) -> str:
    digest = hmac.new(secret.encode(), string_to_sign(params, keep_tilde).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_matches(params: dict[str, str], secret: str, signature: str) -> bool:
    """Java's encoding first; then, as clients built on Python's quote or Go's QueryEscape leave
    ``~`` unescaped, the same with ``~`` literal (no weaker: the secret is still required)."""
    if hmac.compare_digest(sign(params, secret), signature):
        return True
    return any("~" in v for v in params.values()) and hmac.compare_digest(sign(params, secret, True), signature)


def find(params: dict[str, str], name: str) -> str | None:
    """A signing parameter, matched case-insensitively as the real server does."""
    for key, value in params.items():
        if key.lower() == name:
            return value
    return None


def check_expiry(params: dict[str, str], enforce: bool, now: datetime | None = None) -> str | None:
    """None when acceptable, else the reason the request is refused."""
    version = find(params, "signatureversion")
    if version != "3":
        return "signature version 3 with expires is required" if enforce else None
    expires = find(params, "expires")
    if not expires:
        return "missing expires parameter for signature version 3"
    when = parse_tzdate(expires)
    if when is None:
        return "incorrect date format for expires parameter"
    now = now or datetime.now(timezone.utc)
    if when < now:
        return "request expired"
    if enforce and when > now + timedelta(minutes=15):
        return "expires is more than 15 minutes in the future"
    return None
