"""Who may open a data folder: its accounts, and how the GUI, the command line and scripts unlock
it.

A real data folder holds a key store (``keys.json`` beside the catalog,
:mod:`core.security.keystore`). The first start on a folder without one creates the clinic's
first account, an administrator; every later start unlocks with an account's name and password.
Scripts and tests, which have no one to type, name the account in ``THERASCOPE_USER`` and give
its password in the file named by ``THERASCOPE_PASSWORD_FILE`` (its first line). The demo data
folder (simulated patients only) needs no account.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.security.keystore import (
    DEFAULT_KDF,
    KEY_STORE_NAME,
    KdfParams,
    KeyStore,
    Unlocked,
)

#: the account a script acts as
USER_ENV = "THERASCOPE_USER"
#: a file whose first line is that account's password (scripts and tests: no one to type)
PASSWORD_FILE_ENV = "THERASCOPE_PASSWORD_FILE"


class AccessRefused(RuntimeError):
    """The folder cannot be opened as asked, in words (no account yet, no password given, a
    wrong password…)."""


@dataclass(frozen=True)
class Credentials:
    """An account name and password from the environment (either may be missing)."""

    name: str | None
    password: str | None


def key_store_path(root: Path) -> Path:
    """The key store of the data folder ``root``."""
    return Path(root) / KEY_STORE_NAME


def folder_has_accounts(root: Path) -> bool:
    """Whether the data folder has its key store (and so at least one account)."""
    return KeyStore.exists(key_store_path(root))


def credentials_from_environment() -> Credentials:
    """``THERASCOPE_USER`` and the first line of the file ``THERASCOPE_PASSWORD_FILE`` names.

    Raises
    ------
    AccessRefused — the password file is named but cannot be read
    """
    name = os.environ.get(USER_ENV) or None
    password = None
    path = os.environ.get(PASSWORD_FILE_ENV)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise AccessRefused(
                f"The password file {PASSWORD_FILE_ENV} names cannot be read: {exc.strerror or exc}"
            ) from exc
        password = text.splitlines()[0] if text.splitlines() else ""
    return Credentials(name, password)


def open_key_store(root: Path) -> KeyStore:
    """The data folder's key store (nothing unlocked).

    Raises
    ------
    AccessRefused — the folder has no account yet
    """
    path = key_store_path(root)
    if not KeyStore.exists(path):
        raise AccessRefused(
            "This data folder has no account yet. Create the clinic's first account (an "
            "administrator): start TheraScope, or run: therascope users add NAME --admin"
        )
    return KeyStore.open(path)


def only_account(store: KeyStore) -> str | None:
    """The name of the folder's one enabled account, or None when there are several."""
    names = [a.name for a in store.accounts() if not a.disabled]
    return names[0] if len(names) == 1 else None


def unlock(root: Path, name: str, password: str) -> Unlocked:
    """Unlock the data folder ``root`` as the account ``name``.

    Raises
    ------
    AccessRefused — no account yet
    core.security.keystore.WrongPasswordError, AccountLockedError — as the key store says
    """
    return open_key_store(root).unlock(name, password)


def create_first_account(
    root: Path, name: str, password: str, kdf: KdfParams = DEFAULT_KDF
) -> tuple[Unlocked, str]:
    """The clinic's first account (an administrator) in a folder without one; returns it
    unlocked and the recovery key's text, to be shown once.

    Raises
    ------
    core.security.keystore.KeyStoreExistsError — the folder has accounts already
    core.security.keystore.PasswordRuleError, AccountNameError — in words
    """
    store, recovery = KeyStore.create(key_store_path(root), name, password, kdf=kdf)
    return store.unlock(name, password), recovery


def throwaway_account(
    root: Path, password_file: Path, kdf: KdfParams = DEFAULT_KDF
) -> dict[str, str]:
    """For scripts on a scratch data folder (benchmarks, walkthroughs, tests): an administrator
    ``script`` in ``root``, its password written to ``password_file`` (0600); returns the
    environment (``THERASCOPE_USER``, ``THERASCOPE_PASSWORD_FILE``) that unlocks as it."""
    import secrets

    Path(root).mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    create_first_account(root, "script", password, kdf=kdf)[0].close()
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
    return {USER_ENV: "script", PASSWORD_FILE_ENV: str(password_file)}
