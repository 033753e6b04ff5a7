"""SSH key pairs: create (the private key is returned once, never stored), register, list, delete, and
the keys of a VM (deployVirtualMachine keypair(s), resetSSHKeyForVirtualMachine).

The fingerprint is CloudStack's: the MD5 of the decoded public key blob as colon-separated lower-case
hex (``ssh-keygen -l -E md5`` without the ``MD5:`` prefix).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from management.config import service as config
from management.context import Caller
from management.errors import InvalidParameter
from management.guest.models import SSHKeyPair
from management.iam.models import Account, Domain
from management.storage import templates as tmpl

KEY_TYPES = ("ssh-rsa", "ssh-dss", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
MAX_KEY_LENGTH = 5120


def _blob(public_key: str) -> tuple[str, bytes]:
    """(key type, decoded blob) of an OpenSSH public key line; 431 naming publickey when malformed."""
    bad = InvalidParameter("Public key is invalid: expected an OpenSSH public key such as 'ssh-rsa AAAA... "
                           "comment' (publickey)")
    parts = public_key.strip().split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES or len(public_key) > MAX_KEY_LENGTH:
        raise bad
    try:
        blob = base64.b64decode(parts[1], validate=True)
        (size,) = struct.unpack(">I", blob[:4])
        inner = blob[4:4 + size].decode("ascii")
    except (binascii.Error, ValueError, struct.error, UnicodeDecodeError):
        raise bad from None
    if inner != parts[0] or len(blob) <= 4 + size:
        raise bad
    if parts[0] == "ssh-rsa":
        from cryptography.hazmat.primitives.serialization import load_ssh_public_key

        try:
            load_ssh_public_key(f"{parts[0]} {parts[1]}".encode())
        except (ValueError, TypeError):
            raise bad from None
    return parts[0], blob


def fingerprint(public_key: str) -> str:
    digest = hashlib.md5(_blob(public_key)[1]).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def normalized(public_key: str) -> str:
    """The key as stored: type, base64 and comment on one line."""
    return " ".join(public_key.strip().split())


def owner_of(session: Session, caller: Caller, account_name: str | None, domain: Domain | None) -> Account:
    """The account the key pair belongs to: the caller's, or ``account``+``domainid`` for admins."""
    return tmpl.template_owner(session, caller, account_name, domain)


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise InvalidParameter("Invalid key pair name: 1 to 255 characters (name)")
    return name


def _add(session: Session, owner: Account, name: str, public_key: str) -> SSHKeyPair:
    name = _check_name(name)
    key = normalized(public_key)
    print_ = fingerprint(key)
    if get(session, owner, name) is not None:
        raise InvalidParameter(f"A key pair with name '{name}' already exists for account {owner.account_name}")
    same = session.scalar(select(SSHKeyPair).where(SSHKeyPair.account_id == owner.id,
                                                   SSHKeyPair.fingerprint == print_))
    if same is not None:
        raise InvalidParameter(f"A key pair with the same public key already exists for account "
                               f"{owner.account_name}: '{same.keypair_name}' (publickey)")
    row = SSHKeyPair(account_id=owner.id, domain_id=owner.domain_id, keypair_name=name, fingerprint=print_,
                     public_key=key)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise InvalidParameter(f"A key pair with name '{name}' already exists for account "
                               f"{owner.account_name}") from None
    return row


def create(session: Session, owner: Account, name: str) -> tuple[SSHKeyPair, str]:
    """A new RSA key pair; returns the row and the private key (PEM), which is not kept."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    _check_name(name)
    if get(session, owner, name.strip()) is not None:
        raise InvalidParameter(f"A key pair with name '{name.strip()}' already exists for account "
                               f"{owner.account_name}")
    bits = max(1024, config.get_int(session, "ssh.key.length") or 2048)
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return _add(session, owner, name, public), pem


def register(session: Session, owner: Account, name: str, public_key: str) -> SSHKeyPair:
    return _add(session, owner, name, public_key)


def get(session: Session, owner: Account, name: str) -> SSHKeyPair | None:
    return session.scalar(select(SSHKeyPair).where(SSHKeyPair.account_id == owner.id,
                                                   SSHKeyPair.keypair_name == name))


def delete(session: Session, owner: Account, name: str) -> None:
    row = get(session, owner, name)
    if row is None:
        domain = session.get(Domain, owner.domain_id)
        raise InvalidParameter(f"A key pair with name '{name}' does not exist for account {owner.account_name} "
                               f"in specified domain id {domain.uuid if domain else ''}")
    session.delete(row)
    session.flush()


def filtered(query, *, name: str | None, fingerprint_: str | None, keyword: str | None):
    if name:
        query = query.where(SSHKeyPair.keypair_name == name)
    if fingerprint_:
        query = query.where(func.lower(SSHKeyPair.fingerprint) == fingerprint_.lower())
    if keyword:
        like = f"%{keyword}%"
        query = query.where(or_(SSHKeyPair.keypair_name.like(like), SSHKeyPair.fingerprint.like(like)))
    return query


def keys_for_vm(session: Session, account_id: int, names: list[str]) -> tuple[list[str], str]:
    """(names, public keys joined by newlines) of the named key pairs of an account; 431 naming keypair
    when one does not exist."""
    wanted: list[str] = []
    for name in names:
        name = (name or "").strip()
        if name and name not in wanted:
            wanted.append(name)
    rows = {r.keypair_name: r for r in session.scalars(select(SSHKeyPair).where(
        SSHKeyPair.account_id == account_id, SSHKeyPair.keypair_name.in_(wanted or [""])))}
    account = session.get(Account, account_id)
    for name in wanted:
        if name not in rows:
            raise InvalidParameter(f"A key pair with name '{name}' was not found for account "
                                   f"{account.account_name if account else account_id} (keypair)")
    return wanted, "\n".join(rows[n].public_key for n in wanted)
