"""VM passwords: kept encrypted at rest, handed to the owner encrypted with the VM's SSH public key.

At rest (``vm_instance.password``) a password is a Fernet token (AES-128-CBC + HMAC-SHA256) prefixed with
``enc:v1:``, made with the server's guest-secret key: a file ``vm-secrets.key`` in the data directory,
created (mode 0600) on first use. Every management server and worker of one cloud must share that file,
as CloudStack's management servers share their ``key`` file; losing it makes the stored passwords
unreadable (getVMPassword then answers 431 and a password reset makes a new one). Rows written before
encryption (clear text, no prefix) are still read.

getVMPassword answers as CloudStack does: the password encrypted with the VM's SSH public key (RSA,
PKCS#1 v1.5 padding), base64 — the owner decrypts it with the private key
(``base64 -d | openssl pkeyutl -decrypt -inkey key.pem``).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from management.errors import InvalidParameter

PREFIX = "enc:v1:"
KEY_FILE = "vm-secrets.key"
MAX_LENGTH = 100  # a sealed password must fit vm_instance.password (255 characters)
_fernet: dict[str, Fernet] = {}


def _key_path() -> Path:
    from management.settings import get_settings

    return Path(get_settings().data_dir) / KEY_FILE


def _cipher() -> Fernet:
    path = _key_path()
    cached = _fernet.get(str(path))
    if cached is not None:
        return cached
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
    key = b""
    for _ in range(50):  # another process may be writing it right now
        key = path.read_bytes().strip()
        if key:
            break
        import time

        time.sleep(0.05)
    cipher = Fernet(key)
    _fernet[str(path)] = cipher
    return cipher


def seal(password: str | None) -> str | None:
    """The form stored in the database."""
    if password is None:
        return None
    return PREFIX + _cipher().encrypt(password.encode()).decode()


def reveal(stored: str | None) -> str | None:
    """The clear password of a stored value (None when there is none or it cannot be read)."""
    if not stored:
        return None
    if not stored.startswith(PREFIX):
        return stored  # written before passwords were encrypted
    try:
        return _cipher().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        return None


def check_new(password: str | None) -> None:
    if password is not None and (len(password) == 0 or len(password) > MAX_LENGTH):
        raise InvalidParameter(f"Invalid password: it must be 1 to {MAX_LENGTH} characters long (password)")


def first_key(public_keys: str | None) -> str | None:
    for line in (public_keys or "").splitlines():
        if line.strip():
            return line.strip()
    return None


def encrypt_for(public_key: str, password: str) -> str:
    """``password`` encrypted with an OpenSSH RSA public key (PKCS#1 v1.5), base64."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    try:
        key = load_ssh_public_key(public_key.encode())
    except (ValueError, TypeError):
        raise InvalidParameter("The VM's SSH public key cannot be used to encrypt its password") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidParameter("The VM's SSH key is not an RSA key: its password cannot be encrypted with it")
    return base64.b64encode(key.encrypt(password.encode(), padding.PKCS1v15())).decode()
