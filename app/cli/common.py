"""What several subcommands share: the catalog of the data folder, unlocked by an account, and
patients by code."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

#: a new account's (or a new) password, for scripts: the first line of the file it names
NEW_PASSWORD_FILE_ENV = "THERASCOPE_NEW_PASSWORD_FILE"


def open_catalog(args: argparse.Namespace, unlock: bool = True) -> tuple[Any, Path]:
    """The catalog of ``--data-dir`` (or the default data folder) and that folder, unlocked by
    an account (:func:`unlock_folder`) that every audit row then names."""
    if not unlock:
        from core.catalog import Catalog
        from core.config import data_dir

        root = data_dir(args.data_dir)
        return Catalog.open(root / "catalog.sqlite"), root
    cat, root, _unlocked = open_unlocked_catalog(args)
    return cat, root  # the folder stays unlocked (its sealed files readable) until the command ends


def open_unlocked_catalog(args: argparse.Namespace) -> tuple[Any, Path, Any]:
    """As :func:`open_catalog`, keeping the unlocked key store (an erasure destroys keys with
    it); the caller closes it."""
    from core.catalog import Catalog
    from core.config import data_dir

    root = data_dir(args.data_dir)
    unlocked = unlock_folder(args, root)  # first: the catalog's key comes with it
    cat = Catalog.open(root / "catalog.sqlite")
    cat.account = unlocked.account.name
    return cat, root, unlocked


def unlock_folder(args: argparse.Namespace, root: Path) -> Any:
    """The data folder unlocked by the account ``--user`` (or ``THERASCOPE_USER``, or the
    folder's only account) with its password from the file ``THERASCOPE_PASSWORD_FILE`` names,
    or typed at a prompt.

    Raises
    ------
    core.security.access.AccessRefused — in words: no account yet, no password, wrong password,
        locked for a while
    """
    from core.security.access import (
        AccessRefused,
        credentials_from_environment,
        only_account,
        open_key_store,
    )
    from core.security.keystore import KeyStoreError

    store = open_key_store(root)
    creds = credentials_from_environment()
    name = getattr(args, "user", None) or creds.name or only_account(store)
    if not name:
        raise AccessRefused("Name the account: --user NAME (or THERASCOPE_USER).")
    password = creds.password
    if password is None:
        if not sys.stdin.isatty():
            raise AccessRefused(
                "No password: type it at the prompt, or give it in the file that "
                "THERASCOPE_PASSWORD_FILE names (scripts)."
            )
        password = getpass.getpass(f"Password for {name}: ")
    try:
        unlocked = store.unlock(name, password)
    except KeyStoreError as exc:
        raise AccessRefused(str(exc)) from None
    from core.security import vault

    vault.register(root, unlocked)  # this command may open the folder's sealed files
    return unlocked


def new_password(what: str) -> str:
    """A new password: the first line of the file ``THERASCOPE_NEW_PASSWORD_FILE`` names, or
    typed twice at a prompt."""
    import os

    from core.security.access import AccessRefused

    path = os.environ.get(NEW_PASSWORD_FILE_ENV)
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise AccessRefused(f"{NEW_PASSWORD_FILE_ENV} cannot be read: {exc.strerror}") from None
        return lines[0] if lines else ""
    if not sys.stdin.isatty():
        raise AccessRefused(
            f"No password for {what}: type it at the prompt, or give it in the file that "
            f"{NEW_PASSWORD_FILE_ENV} names (scripts)."
        )
    first = getpass.getpass(f"New password for {what}: ")
    if getpass.getpass("The same again: ") != first:
        raise AccessRefused("The two passwords differ; nothing was changed.")
    return first


def patient_or_exit(cat: Any, code: str) -> Any:
    """The patient with ``code``; exits with a hint when there is none."""
    p = cat.patient_by_code(code)
    if p is None:
        raise SystemExit(
            f"No patient with code {code!r} (create one: therascope patients add {code})"
        )
    return p
