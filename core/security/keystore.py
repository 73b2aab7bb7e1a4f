"""The clinic's key store: accounts, passwords and the wrapped keys that encrypt recordings.

The keys form a tree; each key is kept only *wrapped* (encrypted) by the key above it:

* a random **session key** per recording session, wrapped by its patient's key;
* a random **patient key** per patient, wrapped by the clinic key;
* one random **clinic key**, wrapped once per account by a key derived from that account's
  password (Argon2id, memory-hard), and once by the **recovery key** — 32 random bytes shown once
  at set-up as a typable text with check letters (:func:`format_recovery_key`).

Any account that unlocks holds the clinic key and so can reach every patient's data: the roles
("admin", "therapist") decide what the program lets an account *do* (add accounts, reset
passwords, restore backups), not what it can decrypt.

Wrapping is AES-256-GCM with a fresh 12-byte nonce and the wrapped key's place as associated data
(``b"clinic"``, ``b"patient:<uuid>"``, ``b"session:<uid>"``). AES-GCM rather than AES key wrap
(RFC 3394) because key wrap has no associated data: with GCM a wrapped key copied into another
slot (one patient's key put in the place of another's) fails to unwrap instead of quietly giving
a wrong key.

Erasure is cryptographic: destroying a key removes its wrapped copy from the file and writes its
id (never a code or a name) with the time into the erasure ledger; data encrypted under it can no
longer be read. Destroying a patient's key destroys the keys of all its sessions. Copies made
before the erasure — backups of this file, old disk blocks — still hold the key: restoring a
backup must merge the current ledger (:meth:`Unlocked.merge_ledger`).

The file (``keys.json``, beside the catalog, so that integrity checks and a catalog rebuild work
without the catalog) is JSON::

    {
      "format": "therascope-keystore", "version": 1,
      "clinic_key_id": "<hex>",               # fingerprint of the clinic key (not secret)
      "accounts": [{"name", "role", "kdf": {"algorithm": "argon2id", "time_cost",
                    "memory_cost", "parallelism", "salt"}, "clinic_key": <wrapped> | null,
                    "failed_attempts", "locked_until", "created_at", "disabled"}],
      "recovery": {"clinic_key": <wrapped>, "failed_attempts", "locked_until"},
      "patients": {"<uuid>": <wrapped>},
      "sessions": {"<uid>": {"patient": "<uuid>", "key": <wrapped>}},
      "ledger": [{"kind": "patient" | "session", "id", "destroyed_at"}]
    }

where ``<wrapped>`` is ``{"nonce": <base64>, "data": <base64>}`` and times are UTC ISO-8601.
It is written atomically (temporary file, fsync, rename) with mode 0600, under an OS lock on the
sibling file ``keys.json.lock``; every change re-reads the file under that lock first, so two
programs changing the store in turn keep both changes.

Wrong passwords are counted in the file (a restart does not reset them): from the fifth failure
in a row the account is locked for 30 s, doubling with each further failure up to 15 min; a
success clears the count. The recovery key is counted the same way.

Nothing here logs or puts into an exception a password, a key or the recovery text.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import json
import logging
import os
import secrets
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Literal

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.filelock import try_lock, unlock
from core.storage import fsync_folder

__all__ = [
    "DEFAULT_KDF",
    "KEY_STORE_NAME",
    "LOCKOUT_AFTER",
    "MIN_PASSWORD_LENGTH",
    "Account",
    "AccountLockedError",
    "AccountNameError",
    "KdfParams",
    "KeyDestroyedError",
    "KeyNotFoundError",
    "KeyStore",
    "KeyStoreBusyError",
    "KeyStoreError",
    "KeyStoreExistsError",
    "KeyStoreFormatError",
    "KeyStoreIntegrityError",
    "LedgerEntry",
    "PasswordRuleError",
    "RecoveryKeyFormatError",
    "Unlocked",
    "WrongPasswordError",
    "format_recovery_key",
    "key_id",
    "parse_recovery_key",
]

log = logging.getLogger(__name__)

#: the file's usual name, in the data folder beside the catalog
KEY_STORE_NAME = "keys.json"
FORMAT = "therascope-keystore"
VERSION = 1

Role = Literal["admin", "therapist"]
ROLES: tuple[str, ...] = ("admin", "therapist")

MIN_PASSWORD_LENGTH = 10
MAX_NAME_LENGTH = 64
#: wrong passwords in a row before an account is locked
LOCKOUT_AFTER = 5
LOCKOUT_FIRST = timedelta(seconds=30)
LOCKOUT_MAX = timedelta(minutes=15)
#: how long a change waits for another program that holds the store's lock
LOCK_WAIT_S = 10.0

KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
#: the recovery key is 32 random bytes followed by 3 check bytes, in 56 Crockford base-32 digits
RECOVERY_CHECK_BYTES = 3
RECOVERY_DIGITS = 56
RECOVERY_GROUP = 4
RECOVERY_NAME = "recovery key"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_READ = {c: i for i, c in enumerate(_CROCKFORD)} | {"O": 0, "I": 1, "L": 1}


# ------------------------------------------------------------------------------------------------
# errors


class KeyStoreError(Exception):
    """Something is wrong with the key store or with what was asked of it."""


class KeyStoreExistsError(KeyStoreError):
    """A key store is already there: creating one would lose its keys."""


class KeyStoreFormatError(KeyStoreError):
    """The file is not a key store this program can read (damaged, or from a newer version)."""


class KeyStoreBusyError(KeyStoreError):
    """Another program held the key store's lock for too long."""


class KeyStoreIntegrityError(KeyStoreError):
    """A wrapped key does not open with the key above it: the file was altered or damaged."""


class WrongPasswordError(KeyStoreError):
    """The name or the password is wrong (the message does not say which)."""


class AccountLockedError(KeyStoreError):
    """Too many wrong passwords in a row: the account is locked until :attr:`until` (UTC)."""

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class RecoveryKeyFormatError(KeyStoreError, ValueError):
    """The text is not a recovery key: wrong length, a letter that is not used, or a typing
    mistake caught by its check letters."""


class PasswordRuleError(KeyStoreError, ValueError):
    """A new password breaks the password rules (too short)."""


class AccountNameError(KeyStoreError, ValueError):
    """An account name is empty, too long, not printable, or already taken."""


class KeyDestroyedError(KeyStoreError):
    """The key was destroyed (erased): the data it encrypted cannot be read any more."""


class KeyNotFoundError(KeyStoreError, LookupError):
    """There is no key for this patient or session (and none was to be made)."""


# ------------------------------------------------------------------------------------------------
# values


@dataclass(frozen=True)
class KdfParams:
    """Argon2id settings for deriving a key from a password.

    Parameters
    ----------
    time_cost : int — passes over the memory
    memory_cost : int — memory used, in KiB (65536 = 64 MiB)
    parallelism : int — lanes (threads)
    """

    time_cost: int
    memory_cost: int
    parallelism: int


#: RFC 9106's second recommended setting (t=3, 64 MiB, 4 lanes): memory-hard, about 0.1–0.3 s
DEFAULT_KDF = KdfParams(time_cost=3, memory_cost=64 * 1024, parallelism=4)
#: what a file may ask for at most (a damaged or hostile file must not make us use 1 TiB)
_KDF_LIMITS = KdfParams(time_cost=64, memory_cost=4 * 1024 * 1024, parallelism=64)


@dataclass(frozen=True)
class Account:
    """An account as anyone may see it: its name and role, nothing secret."""

    name: str
    role: str
    disabled: bool = False


@dataclass(frozen=True)
class LedgerEntry:
    """One erased key: ``kind`` ``"patient"`` or ``"session"``, the patient's uuid or the
    session's uid, and when it was destroyed (UTC, ISO-8601)."""

    kind: str
    id: str
    destroyed_at: str


# ------------------------------------------------------------------------------------------------
# small pieces


#: the HKDF label of the catalog's key (:meth:`Unlocked.catalog_key`)
CATALOG_KEY_INFO = b"therascope catalog key v1"


def key_id(key: bytes) -> bytes:
    """An 8-byte fingerprint of a key, for file headers: it tells which key a file needs without
    revealing anything of the key (the first 8 bytes of SHA-256 over a fixed prefix and the key).
    """
    return hashlib.sha256(b"therascope key id\x00" + key).digest()[:8]


def _utc_iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds")


def _parse_utc(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _local_words(t: datetime) -> str:
    """A time as people read it: local date and time to the second, with the zone's name."""
    here = t.astimezone()
    return f"{here:%Y-%m-%d %H:%M:%S} {here.tzname() or here.strftime('UTC%z')}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise KeyStoreFormatError("The key store holds a value that is not text where a key is.")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise KeyStoreFormatError("The key store holds a damaged key (not base64).") from None


def _wrap(kek: bytes, key: bytes, place: bytes) -> dict[str, str]:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return {"nonce": _b64(nonce), "data": _b64(AESGCM(kek).encrypt(nonce, key, place))}


def _unwrap(kek: bytes, wrapped: Any, place: bytes) -> bytes:
    """The key inside ``wrapped``; :class:`InvalidTag` when ``kek`` or ``place`` is not the one
    it was wrapped with (or the record was altered)."""
    if not isinstance(wrapped, dict):
        raise KeyStoreFormatError("The key store holds a damaged wrapped key.")
    nonce = _unb64(wrapped.get("nonce"))
    if len(nonce) != NONCE_BYTES:
        raise KeyStoreFormatError("The key store holds a damaged wrapped key (nonce).")
    return AESGCM(kek).decrypt(nonce, _unb64(wrapped.get("data")), place)


def _unwrap_checked(kek: bytes, wrapped: Any, place: bytes) -> bytes:
    try:
        return _unwrap(kek, wrapped, place)
    except InvalidTag:
        raise KeyStoreIntegrityError(
            "A key in the key store does not open with the key above it: the file was altered "
            "or damaged."
        ) from None


def _place_patient(uuid: str) -> bytes:
    return f"patient:{uuid}".encode()


def _place_session(uid: str) -> bytes:
    return f"session:{uid}".encode()


_PLACE_CLINIC = b"clinic"


def _password_bytes(password: str) -> bytes:
    # the same letters typed on two keyboards can arrive composed differently (é as one code
    # point or as e + accent): normalise so that both give the same key
    return unicodedata.normalize("NFC", password).encode("utf-8")


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRuleError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")


def _clean_name(name: str) -> str:
    if not isinstance(name, str):
        raise AccountNameError("An account name must be text.")
    name = name.strip()
    if not name:
        raise AccountNameError("An account needs a name.")
    if len(name) > MAX_NAME_LENGTH:
        raise AccountNameError(f"An account name can have at most {MAX_NAME_LENGTH} characters.")
    if not name.isprintable():
        raise AccountNameError("An account name cannot hold control characters.")
    return name


def _new_kdf(params: KdfParams) -> dict[str, Any]:
    return {
        "algorithm": "argon2id",
        "time_cost": params.time_cost,
        "memory_cost": params.memory_cost,
        "parallelism": params.parallelism,
        "salt": _b64(secrets.token_bytes(SALT_BYTES)),
    }


def _derive(password: str, kdf: Any) -> bytes:
    """The 32-byte key-encryption key of a password under an account's stored settings."""
    if not isinstance(kdf, dict) or kdf.get("algorithm") != "argon2id":
        raise KeyStoreFormatError("An account in the key store uses an unknown password scheme.")
    try:
        t, m, p = int(kdf["time_cost"]), int(kdf["memory_cost"]), int(kdf["parallelism"])
    except (KeyError, TypeError, ValueError):
        raise KeyStoreFormatError("An account in the key store has damaged settings.") from None
    lim = _KDF_LIMITS
    if not (
        1 <= t <= lim.time_cost and 1 <= p <= lim.parallelism and 8 * p <= m <= lim.memory_cost
    ):
        raise KeyStoreFormatError("An account in the key store has settings out of range.")
    salt = _unb64(kdf.get("salt"))
    return hash_secret_raw(_password_bytes(password), salt, t, m, p, KEY_BYTES, Type.ID)


def _recovery_kek(recovery_key: bytes) -> bytes:
    # the recovery key is already 256 random bits: no stretching needed, only a separate key
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"therascope recovery kek v1"
    ).derive(recovery_key)


def _recovery_check(key: bytes) -> bytes:
    return hashlib.sha256(b"therascope recovery check\x00" + key).digest()[:RECOVERY_CHECK_BYTES]


def format_recovery_key(key: bytes) -> str:
    """The recovery key as people copy it down: 56 Crockford base-32 digits in groups of four,
    the last five carrying check bits that catch a typing mistake.

    Parameters
    ----------
    key : bytes — the 32-byte recovery key

    Returns
    -------
    str — e.g. ``"7K3M-Q0ZX-…-B4T9"`` (14 groups)
    """
    if len(key) != KEY_BYTES:
        raise ValueError("A recovery key is 32 bytes.")
    n = int.from_bytes(key + _recovery_check(key), "big")
    digits = "".join(_CROCKFORD[(n >> (5 * i)) & 31] for i in reversed(range(RECOVERY_DIGITS)))
    return "-".join(
        digits[i : i + RECOVERY_GROUP] for i in range(0, RECOVERY_DIGITS, RECOVERY_GROUP)
    )


def parse_recovery_key(text: str) -> bytes:
    """The 32-byte recovery key from the text :func:`format_recovery_key` printed.

    Case, spaces and dashes do not matter; O reads as 0, I and L as 1.

    Raises
    ------
    RecoveryKeyFormatError — wrong length, a letter not used in recovery keys, or a typing
        mistake (the check letters do not match); the message never repeats the text
    """
    cleaned = "".join(c for c in str(text).upper() if c not in " -\t\r\n")
    if len(cleaned) != RECOVERY_DIGITS:
        raise RecoveryKeyFormatError(
            f"A recovery key has {RECOVERY_DIGITS} letters and digits; this one has {len(cleaned)}."
        )
    n = 0
    for c in cleaned:
        if c not in _CROCKFORD_READ:
            raise RecoveryKeyFormatError(
                "The recovery key holds a character that is never used in one."
            )
        n = (n << 5) | _CROCKFORD_READ[c]
    raw = n.to_bytes(KEY_BYTES + RECOVERY_CHECK_BYTES, "big")
    key, check = raw[:KEY_BYTES], raw[KEY_BYTES:]
    if not secrets.compare_digest(check, _recovery_check(key)):
        raise RecoveryKeyFormatError(
            "The recovery key has a typing mistake (its check letters do not match)."
        )
    return key


def _write_private_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` with mode 0600 so that a crash leaves the old or the new file, never a torn
    one (temporary file in the same folder, fsync, rename, fsync of the folder)."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if sys.platform != "win32":
            os.chmod(tmp, 0o600)  # mkstemp makes it 0600 already; say so anyway
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def _open_private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


# ------------------------------------------------------------------------------------------------
# the store


Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class KeyStore:
    """The key store file: read freely, changed under its lock; :meth:`unlock` opens it.

    Use :meth:`create` once (the first start on a data folder) and :meth:`open` afterwards.

    Parameters
    ----------
    path : Path — the ``keys.json`` file
    kdf : KdfParams — settings for passwords set from now on (each account keeps its own)
    now : callable — the current time (UTC, aware); tests give a fake clock
    """

    def __init__(
        self, path: Path, *, kdf: KdfParams = DEFAULT_KDF, now: Clock | None = None
    ) -> None:
        self.path = Path(path)
        self.kdf = kdf
        self.now: Clock = now or _utc_now
        self._doc: dict[str, Any] = {}

    # -- files -----------------------------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @staticmethod
    def exists(path: Path) -> bool:
        """True when a key store file is at ``path``."""
        return Path(path).is_file()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (every change takes it): the file read inside is whole and
        stays as it is until the block ends (a backup copies it so). Raises
        :class:`KeyStoreBusyError` when another program holds it for more than a few seconds."""
        try:
            fh: IO[bytes] = open(self.lock_path, "a+b", opener=_open_private)  # noqa: SIM115
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            # a read-only data folder: nothing can be written, so nothing needs the lock; an
            # unlock still works (the catalog is read, not changed), a change fails in words
            yield
            return
        try:
            deadline = time.monotonic() + LOCK_WAIT_S
            while not try_lock(fh):
                if time.monotonic() > deadline:
                    raise KeyStoreBusyError(
                        "Another TheraScope program is changing the key store; try again."
                    )
                time.sleep(0.02)
            try:
                yield
            finally:
                unlock(fh)
        finally:
            fh.close()

    def _read(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreFormatError(f"There is no key store at {self.path}.") from None
        try:
            doc = json.loads(raw)
        except ValueError:
            raise KeyStoreFormatError(f"The key store {self.path} is damaged (not JSON).") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise KeyStoreFormatError(f"{self.path} is not a TheraScope key store.")
        if doc.get("version") != VERSION:
            raise KeyStoreFormatError(
                f"The key store {self.path} has version {doc.get('version')!r}; this program "
                f"reads version {VERSION}."
            )
        for field, kind in (
            ("accounts", list),
            ("recovery", dict),
            ("patients", dict),
            ("sessions", dict),
            ("ledger", list),
        ):
            if not isinstance(doc.get(field), kind):
                raise KeyStoreFormatError(f"The key store {self.path} is damaged ({field}).")
        self._doc = doc
        return doc

    def _write(self, doc: dict[str, Any]) -> None:
        data = json.dumps(doc, indent=1, sort_keys=False).encode("utf-8") + b"\n"
        _write_private_atomic(self.path, data)
        self._doc = doc

    @contextlib.contextmanager
    def _change(self) -> Iterator[dict[str, Any]]:
        """The file's current content, read under the lock; written back when the block ends
        without an error."""
        with self.locked():
            doc = self._read()
            yield doc
            self._write(doc)

    # -- making and opening ----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        admin_name: str,
        password: str,
        *,
        kdf: KdfParams = DEFAULT_KDF,
        now: Clock | None = None,
    ) -> tuple[KeyStore, str]:
        """Make a new key store with its first account (an administrator) and a new clinic key.

        Returns
        -------
        (KeyStore, str) — the store, and the recovery key as text: show it once and ask for it
            to be written down; it is not kept anywhere

        Raises
        ------
        KeyStoreExistsError — a key store is already at ``path``
        AccountNameError, PasswordRuleError — the name or the password breaks the rules
        """
        store = cls(path, kdf=kdf, now=now)
        name = _clean_name(admin_name)
        _check_password(password)
        store.path.parent.mkdir(parents=True, exist_ok=True)
        with store.locked():
            if store.path.exists():
                raise KeyStoreExistsError(f"There is a key store at {store.path} already.")
            clinic = secrets.token_bytes(KEY_BYTES)
            recovery = secrets.token_bytes(KEY_BYTES)
            doc: dict[str, Any] = {
                "format": FORMAT,
                "version": VERSION,
                "clinic_key_id": key_id(clinic).hex(),
                "accounts": [store._new_account(name, "admin", password, clinic)],
                "recovery": {
                    "clinic_key": _wrap(_recovery_kek(recovery), clinic, _PLACE_CLINIC),
                    "failed_attempts": 0,
                    "locked_until": None,
                },
                "patients": {},
                "sessions": {},
                "ledger": [],
            }
            store._write(doc)
        log.info("Key store created with its first administrator account")
        return store, format_recovery_key(recovery)

    @classmethod
    def open(
        cls, path: Path, *, kdf: KdfParams = DEFAULT_KDF, now: Clock | None = None
    ) -> KeyStore:
        """Read the key store at ``path`` (nothing is unlocked).

        Raises
        ------
        KeyStoreFormatError — no file there, or not a key store this program reads
        """
        store = cls(path, kdf=kdf, now=now)
        store._read()
        return store

    def _new_account(self, name: str, role: str, password: str, clinic: bytes) -> dict[str, Any]:
        kdf = _new_kdf(self.kdf)
        return {
            "name": name,
            "role": role,
            "kdf": kdf,
            "clinic_key": _wrap(_derive(password, kdf), clinic, _PLACE_CLINIC),
            "failed_attempts": 0,
            "locked_until": None,
            "created_at": _utc_iso(self.now()),
            "disabled": False,
        }

    # -- reading (no key needed) -----------------------------------------------------------------

    def reload(self) -> None:
        """Read the file again (another program may have changed it)."""
        self._read()

    def accounts(self) -> list[Account]:
        """Every account's name and role (and whether it is disabled), as the file says now."""
        self._read()
        return [
            Account(str(a.get("name")), str(a.get("role")), bool(a.get("disabled")))
            for a in self._doc["accounts"]
        ]

    @property
    def has_accounts(self) -> bool:
        """True when the store has at least one account (disabled ones count)."""
        return bool(self.accounts())

    @property
    def clinic_key_id(self) -> bytes:
        """The fingerprint (:func:`key_id`) of the clinic key: which clinic the store belongs to."""
        return bytes.fromhex(str(self._doc.get("clinic_key_id", "")))

    def ledger(self) -> list[LedgerEntry]:
        """The erasure ledger: every destroyed patient and session key, oldest first."""
        self._read()
        return _ledger_of(self._doc)

    # -- unlocking -------------------------------------------------------------------------------

    def unlock(self, name: str, password: str) -> Unlocked:
        """Open the store with an account's password.

        Raises
        ------
        AccountLockedError — too many wrong passwords lately; says until when
        WrongPasswordError — the name or the password is wrong, or the account is disabled (the
            message does not say which); counted towards the lock
        """
        with self.locked():
            doc = self._read()
            acc = _find_account(doc, name)
            if acc is None:
                # as slow as a real try, so the time taken does not tell whether the name exists
                _derive(password, _new_kdf(self.kdf))
                raise WrongPasswordError("Wrong name or password.")
            self._refuse_if_locked(acc, "this account")
            clinic = None
            kek = _derive(password, acc.get("kdf"))  # for a disabled account too: same time
            if not acc.get("disabled") and acc.get("clinic_key") is not None:
                with contextlib.suppress(InvalidTag):
                    clinic = _unwrap(kek, acc["clinic_key"], _PLACE_CLINIC)
            if clinic is None:
                if not acc.get("disabled"):
                    self._count_failure(acc)
                    self._write(doc)
                raise WrongPasswordError("Wrong name or password.")
            if acc.get("failed_attempts") or acc.get("locked_until"):
                acc["failed_attempts"] = 0
                acc["locked_until"] = None
                self._write(doc)
        _check_clinic(doc, clinic)
        log.info("Key store unlocked by an account (%s)", acc.get("role"))
        return Unlocked(self, Account(str(acc["name"]), str(acc["role"])), clinic)

    def unlock_with_recovery(self, recovery_text: str) -> Unlocked:
        """Open the store with the recovery key (as an administrator, to reset a password).

        Raises
        ------
        RecoveryKeyFormatError — not a recovery key, or mistyped (not counted)
        AccountLockedError — too many wrong recovery keys lately
        WrongPasswordError — a well-formed recovery key of another store; counted
        """
        key = parse_recovery_key(recovery_text)
        with self.locked():
            doc = self._read()
            rec = doc["recovery"]
            self._refuse_if_locked(rec, "the recovery key")
            try:
                clinic = _unwrap(_recovery_kek(key), rec.get("clinic_key"), _PLACE_CLINIC)
            except InvalidTag:
                self._count_failure(rec)
                self._write(doc)
                raise WrongPasswordError("This is not the recovery key of this clinic.") from None
            if rec.get("failed_attempts") or rec.get("locked_until"):
                rec["failed_attempts"] = 0
                rec["locked_until"] = None
                self._write(doc)
        _check_clinic(doc, clinic)
        log.info("Key store unlocked with the recovery key")
        return Unlocked(self, Account(RECOVERY_NAME, "admin"), clinic, by_recovery=True)

    def _refuse_if_locked(self, record: dict[str, Any], who: str) -> None:
        """Raise :class:`AccountLockedError` while ``record`` is locked (``who``: "this account",
        "the recovery key" — for the message)."""
        until = _parse_utc(record.get("locked_until"))
        if until is not None and self.now() < until:
            raise AccountLockedError(
                f"Too many wrong tries: {who} is locked until {_local_words(until)}.", until
            )

    def _count_failure(self, record: dict[str, Any]) -> None:
        """Count a wrong try; from the :data:`LOCKOUT_AFTER`-th in a row, lock for 30 s doubling
        up to 15 min."""
        n = int(record.get("failed_attempts") or 0) + 1
        record["failed_attempts"] = n
        if n >= LOCKOUT_AFTER:
            doublings = min(n - LOCKOUT_AFTER, 16)
            delay = min(LOCKOUT_FIRST * (2**doublings), LOCKOUT_MAX)
            record["locked_until"] = _utc_iso(self.now() + delay)
        log.warning("Key store: a wrong password or recovery key (%d in a row)", n)


def _find_account(doc: dict[str, Any], name: str) -> dict[str, Any] | None:
    if not isinstance(name, str):
        return None
    want = name.strip().casefold()
    for acc in doc["accounts"]:
        if isinstance(acc, dict) and str(acc.get("name", "")).casefold() == want:
            return acc
    return None


def _check_clinic(doc: dict[str, Any], clinic: bytes) -> None:
    stored = doc.get("clinic_key_id")
    if stored is not None and stored != key_id(clinic).hex():
        raise KeyStoreIntegrityError(
            "The clinic key does not match the key store's fingerprint: the file was altered."
        )


def _ledger_of(doc: dict[str, Any]) -> list[LedgerEntry]:
    return [
        LedgerEntry(str(e.get("kind")), str(e.get("id")), str(e.get("destroyed_at")))
        for e in doc["ledger"]
        if isinstance(e, dict)
    ]


def _destroyed(doc: dict[str, Any], kind: str, ident: str) -> bool:
    return any(
        isinstance(e, dict) and e.get("kind") == kind and e.get("id") == ident
        for e in doc["ledger"]
    )


class Unlocked:
    """The key store opened by one account (or by the recovery key): holds the clinic key in
    memory until :meth:`close`.

    Every change re-reads the file under its lock, so changes made meanwhile by another program
    are kept.
    """

    __slots__ = ("_by_recovery", "_clinic", "account", "store")

    def __init__(
        self, store: KeyStore, account: Account, clinic: bytes, *, by_recovery: bool = False
    ) -> None:
        self.store = store
        self.account = account
        self._clinic: bytes | None = clinic
        self._by_recovery = by_recovery

    def __repr__(self) -> str:
        return f"Unlocked(account={self.account.name!r}, role={self.account.role!r})"

    def __enter__(self) -> Unlocked:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Forget the clinic key (Python cannot wipe memory; this drops the reference)."""
        self._clinic = None

    @property
    def _key(self) -> bytes:
        if self._clinic is None:
            raise KeyStoreError("The key store was locked again; unlock it first.")
        return self._clinic

    def _require_admin(self, doc: dict[str, Any]) -> None:
        """Only administrators (as the file says now, or the recovery key) may go on."""
        if self._by_recovery:
            return
        acc = _find_account(doc, self.account.name)
        if acc is None or acc.get("role") != "admin" or acc.get("disabled"):
            raise PermissionError("Only an administrator can do this.")

    # -- accounts --------------------------------------------------------------------------------

    def add_account(self, name: str, password: str, role: str = "therapist") -> Account:
        """Add an account (administrators only).

        Raises
        ------
        PermissionError — this account is not an administrator
        AccountNameError — the name breaks the rules or is taken (case does not count)
        PasswordRuleError — the password is too short
        """
        if role not in ROLES:
            raise ValueError(f"An account's role is one of {', '.join(ROLES)}.")
        clean = _clean_name(name)
        _check_password(password)
        with self.store._change() as doc:
            self._require_admin(doc)
            if _find_account(doc, clean) is not None:
                raise AccountNameError("There is an account with this name already.")
            doc["accounts"].append(self.store._new_account(clean, role, password, self._key))
        log.info("Key store: an account was added (%s)", role)
        return Account(clean, role)

    def reset_password(self, name: str, new_password: str) -> None:
        """Give an account a new password (administrators only); also lifts its lock and
        enables it again if it was disabled."""
        _check_password(new_password)
        with self.store._change() as doc:
            self._require_admin(doc)
            acc = _find_account(doc, name)
            if acc is None:
                raise AccountNameError("There is no account with this name.")
            self._set_password(acc, new_password)
        log.info("Key store: an administrator reset a password")

    def change_password(self, old_password: str, new_password: str) -> None:
        """Change this account's own password.

        Raises
        ------
        WrongPasswordError — ``old_password`` is wrong (counted towards the lock)
        PasswordRuleError — the new password is too short
        """
        if self._by_recovery:
            raise PermissionError("The recovery key has no password; reset an account's instead.")
        _check_password(new_password)
        with self.store.locked():
            doc = self.store._read()
            acc = _find_account(doc, self.account.name)
            if acc is None or acc.get("disabled") or acc.get("clinic_key") is None:
                raise PermissionError("This account was removed or disabled.")
            self.store._refuse_if_locked(acc, "this account")
            try:
                _unwrap(_derive(old_password, acc.get("kdf")), acc["clinic_key"], _PLACE_CLINIC)
            except InvalidTag:
                self.store._count_failure(acc)
                self.store._write(doc)
                raise WrongPasswordError("The current password is wrong.") from None
            self._set_password(acc, new_password)
            self.store._write(doc)
        log.info("Key store: an account changed its password")

    def _set_password(self, acc: dict[str, Any], password: str) -> None:
        kdf = _new_kdf(self.store.kdf)
        acc["kdf"] = kdf
        acc["clinic_key"] = _wrap(_derive(password, kdf), self._key, _PLACE_CLINIC)
        acc["failed_attempts"] = 0
        acc["locked_until"] = None
        acc["disabled"] = False

    def disable_account(self, name: str) -> None:
        """Disable an account (administrators only): its wrapped clinic key is removed, so its
        old password opens nothing, even read from a copy of this file made from now on.
        :meth:`reset_password` enables it again.

        Raises
        ------
        PermissionError — not an administrator, or this would leave no enabled administrator
        """
        with self.store._change() as doc:
            self._require_admin(doc)
            acc = _find_account(doc, name)
            if acc is None:
                raise AccountNameError("There is no account with this name.")
            admins = [
                a for a in doc["accounts"] if a.get("role") == "admin" and not a.get("disabled")
            ]
            if acc.get("role") == "admin" and admins == [acc]:
                raise PermissionError("The last administrator cannot be disabled.")
            acc["disabled"] = True
            acc["clinic_key"] = None
        log.info("Key store: an account was disabled")

    # -- keys ------------------------------------------------------------------------------------

    def catalog_key(self) -> bytes:
        """The catalog's database key: derived from the clinic key (HKDF-SHA256, its own label),
        so every account that unlocks the folder opens the catalog and nothing more is stored."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=CATALOG_KEY_INFO)
        return hkdf.derive(self._key)

    def key_id(self, key: bytes) -> bytes:
        """The 8-byte fingerprint of ``key`` (:func:`key_id`)."""
        return key_id(key)

    def patient_key(self, uuid: str, create: bool = True) -> bytes:
        """The key of a patient; made (and saved) the first time when ``create``.

        Raises
        ------
        KeyDestroyedError — the patient's key was destroyed
        KeyNotFoundError — there is none and ``create`` is False
        """
        uuid = str(uuid)
        doc = self.store._read()
        found = self._patient_from(doc, uuid)
        if found is not None:
            return found
        if not create:
            raise KeyNotFoundError(f"There is no key for patient {uuid}.")
        with self.store._change() as doc:
            found = self._patient_from(doc, uuid)  # another program may have made it meanwhile
            if found is None:
                found = secrets.token_bytes(KEY_BYTES)
                doc["patients"][uuid] = _wrap(self._key, found, _place_patient(uuid))
                log.info("Key store: a patient key was made for %s", uuid)
        return found

    def _patient_from(self, doc: dict[str, Any], uuid: str) -> bytes | None:
        if _destroyed(doc, "patient", uuid):
            raise KeyDestroyedError(f"The key of patient {uuid} was destroyed.")
        wrapped = doc["patients"].get(uuid)
        if wrapped is None:
            return None
        return _unwrap_checked(self._key, wrapped, _place_patient(uuid))

    def session_key(self, uid: str, patient_uuid: str, create: bool = True) -> bytes:
        """The key of a session of ``patient_uuid``; made (with the patient's key, if need be)
        the first time when ``create``.

        Raises
        ------
        KeyDestroyedError — the session's key, or its patient's key, was destroyed
        KeyNotFoundError — there is none and ``create`` is False
        KeyStoreIntegrityError — the session is filed under another patient
        """
        uid, patient_uuid = str(uid), str(patient_uuid)
        doc = self.store._read()
        found = self._session_from(doc, uid, patient_uuid)
        if found is not None:
            return found
        if not create:
            raise KeyNotFoundError(f"There is no key for session {uid}.")
        with self.store._change() as doc:
            found = self._session_from(doc, uid, patient_uuid)
            if found is None:
                pkey = self._patient_from(doc, patient_uuid)
                if pkey is None:
                    pkey = secrets.token_bytes(KEY_BYTES)
                    doc["patients"][patient_uuid] = _wrap(
                        self._key, pkey, _place_patient(patient_uuid)
                    )
                found = secrets.token_bytes(KEY_BYTES)
                doc["sessions"][uid] = {
                    "patient": patient_uuid,
                    "key": _wrap(pkey, found, _place_session(uid)),
                }
                log.info("Key store: a session key was made for %s", uid)
        return found

    def _session_from(self, doc: dict[str, Any], uid: str, patient_uuid: str) -> bytes | None:
        if _destroyed(doc, "session", uid):
            raise KeyDestroyedError(f"The key of session {uid} was destroyed.")
        entry = doc["sessions"].get(uid)
        if entry is None:
            if _destroyed(doc, "patient", patient_uuid):
                raise KeyDestroyedError(f"The key of patient {patient_uuid} was destroyed.")
            return None
        if not isinstance(entry, dict) or entry.get("patient") != patient_uuid:
            raise KeyStoreIntegrityError(
                f"The key store files session {uid} under another patient."
            )
        pkey = self._patient_from(doc, patient_uuid)
        if pkey is None:
            raise KeyStoreIntegrityError(
                f"The key store has session {uid}'s key but not its patient's."
            )
        return _unwrap_checked(pkey, entry.get("key"), _place_session(uid))

    # -- erasure ---------------------------------------------------------------------------------

    def destroy_session_key(self, uid: str) -> None:
        """Destroy a session's key: its wrapped copy leaves the file and the ledger records the
        erasure. Destroying it again changes nothing."""
        uid = str(uid)
        with self.store._change() as doc:
            _destroy_session(doc, uid, _utc_iso(self.store.now()))
        log.info("Key store: the key of session %s was destroyed", uid)

    def destroy_patient_key(self, uuid: str) -> None:
        """Destroy a patient's key and the keys of all the patient's sessions."""
        uuid = str(uuid)
        with self.store._change() as doc:
            _destroy_patient(doc, uuid, _utc_iso(self.store.now()))
        log.info("Key store: the key of patient %s and its sessions' keys were destroyed", uuid)

    def ledger(self) -> list[LedgerEntry]:
        """The erasure ledger (what was destroyed, when), oldest first."""
        return self.store.ledger()

    def merge_ledger(self, other: Iterable[LedgerEntry] | KeyStore) -> int:
        """Destroy here every key that ``other``'s ledger lists (after restoring an older copy of
        the key store: erasures made since must not come back).

        Returns
        -------
        int — how many ledger entries were new here
        """
        entries = other.ledger() if isinstance(other, KeyStore) else list(other)
        added = 0
        with self.store._change() as doc:
            for e in entries:
                if _destroyed(doc, e.kind, e.id):
                    continue
                if e.kind == "patient":
                    _destroy_patient(doc, e.id, e.destroyed_at)
                elif e.kind == "session":
                    _destroy_session(doc, e.id, e.destroyed_at)
                else:
                    continue
                added += 1
        if added:
            log.info("Key store: %d erasures merged from another ledger", added)
        return added


def _destroy_session(doc: dict[str, Any], uid: str, when: str) -> None:
    doc["sessions"].pop(uid, None)
    if not _destroyed(doc, "session", uid):
        doc["ledger"].append({"kind": "session", "id": uid, "destroyed_at": when})


def _destroy_patient(doc: dict[str, Any], uuid: str, when: str) -> None:
    for uid in [
        u for u, s in doc["sessions"].items() if isinstance(s, dict) and s.get("patient") == uuid
    ]:
        _destroy_session(doc, uid, when)
    doc["patients"].pop(uuid, None)
    if not _destroyed(doc, "patient", uuid):
        doc["ledger"].append({"kind": "patient", "id": uuid, "destroyed_at": when})
