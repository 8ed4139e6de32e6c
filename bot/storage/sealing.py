"""What stored member text is encrypted with, and the keyed digest an edit is compared by.

Why encrypt what the database already holds: a database does not forget on request. PostgreSQL keeps a
changed or deleted row in its data files (dead rows) and its WAL until it happens to reuse the space, and
no backup forgets at all; SQLite overwrites what it deletes only with `secure_delete`, and only in the
live file. So a member's text is only ever written encrypted (AES-256-GCM) under a key of that member in
that guild (`MemberKey`), and erasing the text destroys the key: every copy of the ciphertext, wherever it
survives, is unreadable from then on. The same path runs on both databases.

Why a keyed digest: an edit is re-scored only when its text changed, so each scored message keeps a
digest of its text. A plain hash of a short chat message is a dictionary away from the text itself; an
HMAC under a secret of this installation (`InstallSecret`, made on first use) cannot be tested against
guesses without that secret, and erasure drops the digest with the text.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's standard nonce; random per text, so a key may seal many texts
FORMAT = b"\x01"  # first byte of every sealed value: the layout below, should it ever change
# authenticated with every flag text: a sealed value made for something else does not open as one
FLAG_TEXT = b"toxmod:flags.text"
CONTEXT_TEXT = b"toxmod:flag_context.text"  # and with every line of a flag's context
APPEAL_TEXT = b"toxmod:appeals.text"  # and with every member's appeal
DIGEST_SECRET = "content_digest"  # noqa: S105 - not a secret: the InstallSecret.name of the key of `digest`


def new_key() -> bytes:
    """A new random AES-256 key."""
    return os.urandom(KEY_BYTES)


def _utf8(text: str) -> bytes:
    # "surrogatepass": a lone surrogate (possible in a Discord message) is stored as it came, not refused
    return text.encode("utf-8", "surrogatepass")


def seal(key: bytes, text: str, purpose: bytes = FLAG_TEXT) -> bytes:
    """`text` encrypted and authenticated under `key`: FORMAT, a random nonce, then the ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT + nonce + AESGCM(key).encrypt(nonce, _utf8(text), purpose)


def unseal(key: bytes, sealed: bytes, purpose: bytes = FLAG_TEXT) -> str | None:
    """The text `seal` encrypted; None when it cannot be opened with this key (another key, or altered)."""
    if sealed[:1] != FORMAT or len(sealed) < 1 + NONCE_BYTES:
        return None
    nonce, body = sealed[1:1 + NONCE_BYTES], sealed[1 + NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, body, purpose).decode("utf-8", "surrogatepass")
    except InvalidTag:
        return None


def digest(secret: bytes, text: str) -> str:
    """HMAC-SHA256 of the text under the installation's secret, as 64 hex digits."""
    return hmac.new(secret, _utf8(text), hashlib.sha256).hexdigest()
