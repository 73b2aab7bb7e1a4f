"""``therascope backup`` and ``therascope restore``: a consistent copy of the data folder while
the app runs, checked by hashes, and a restore that never brings back an erased patient
(:mod:`core.privacy.backup`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _refuse(message: str) -> int:
    print(f"therascope: {message}", file=sys.stderr)
    return 2


def _size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e5 else f"{n:,} bytes"


def cmd_backup(args: argparse.Namespace) -> int:
    from app.cli.common import unlock_folder
    from core.catalog import CATALOG_FILENAME, Catalog
    from core.config import data_dir
    from core.privacy.backup import backup, verify_backup

    dest = Path(args.dest)
    if args.verify:
        problems = verify_backup(dest)
        if problems:
            print(f"The backup {dest} has {len(problems)} problem(s):", file=sys.stderr)
            for line in problems:
                print(f"  {line}", file=sys.stderr)
            return 1
        print(f"The backup {dest} is whole: every file matches its SHA-256.")
        return 0
    root = data_dir(args.data_dir)
    with unlock_folder(args, root) as unlocked:  # first: an encrypted catalog opens with its key
        cat = Catalog.open(root / CATALOG_FILENAME)  # a read-only or full disk said as such
        try:
            cat.account = unlocked.account.name
            result = backup(root, dest, unlocked=unlocked, catalog=cat)
        finally:
            cat.close()
    print(f"Backup written to {result.dest}: {result.files:,} files, {_size(result.bytes)}.")
    if result.left_out:
        print(
            f"Left out, still recording or being imported: {', '.join(result.left_out)} "
            "(back up again once they are finished)."
        )
    if result.ledger_entries:
        print(f"It carries the erasure ledger ({result.ledger_entries} erased keys).")
    print(f"Check it later: therascope backup --verify {result.dest}")
    return 0


def _credentials(args: argparse.Namespace, store_path: Path) -> tuple[str, str]:
    """The administrator's name (``--user``, ``THERASCOPE_USER``, or the backup's only account)
    and password (the file ``THERASCOPE_PASSWORD_FILE`` names, or typed)."""
    import getpass

    from core.security.access import AccessRefused, credentials_from_environment, only_account
    from core.security.keystore import KeyStore

    creds = credentials_from_environment()
    name = getattr(args, "user", None) or creds.name or only_account(KeyStore.open(store_path))
    if not name:
        raise AccessRefused("Name the administrator: --user NAME (or THERASCOPE_USER).")
    password = creds.password
    if password is None:
        if not sys.stdin.isatty():
            raise AccessRefused(
                "No password: type it at the prompt, or give it in the file that "
                "THERASCOPE_PASSWORD_FILE names (scripts)."
            )
        password = getpass.getpass(f"Password for {name} (as it was when the backup was made): ")
    return name, password


def cmd_restore(args: argparse.Namespace) -> int:
    from core.config import data_dir
    from core.privacy.backup import (
        BackupDamaged,
        BackupError,
        ledger_of_folder,
        restore,
        verify_backup,
    )
    from core.security.keystore import KEY_STORE_NAME, KeyStore, KeyStoreError, Unlocked

    source = Path(args.backup)
    problems = verify_backup(source)  # before asking for a password
    if problems:
        print(f"The backup {source} does not match its manifest:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return _refuse("refused: nothing was restored.")
    ledgers = []
    folders = [data_dir(args.data_dir), *(Path(d) for d in args.ledger_from or [])]
    try:
        for folder in folders:
            ledgers.append(ledger_of_folder(folder))
    except KeyStoreError as exc:
        return _refuse(f"the erasure ledger cannot be read: {exc} Nothing was restored.")
    name, password = _credentials(args, source / KEY_STORE_NAME)

    def unlock(store: KeyStore) -> Unlocked:
        return store.unlock(name, password)

    try:
        result = restore(source, Path(args.into), unlock=unlock, ledgers=ledgers)
    except BackupDamaged as exc:
        return _refuse(str(exc))
    except (BackupError, KeyStoreError, PermissionError) as exc:
        return _refuse(f"{exc} Nothing was restored.")
    print(
        f"Restored {result.files:,} files ({_size(result.bytes)}) into {result.into}, "
        f"as {result.account}."
    )
    if result.erased_patients or result.erased_sessions:
        print(
            f"Left out as erased since the backup: {len(result.erased_patients)} patient(s), "
            f"{len(result.erased_sessions)} session(s); their keys are destroyed."
        )
    if result.ledger_merged:
        print(f"The restored key store now knows {result.ledger_merged} more erasure(s).")
    print(f"Open it: therascope --data-dir {result.into}")
    return 0


def cmd_encrypt(args: argparse.Namespace) -> int:
    from app.cli.common import open_unlocked_catalog
    from core.privacy.migration import MigrationError, encrypt_folder, needs_encryption

    cat, root, unlocked = open_unlocked_catalog(args)
    try:
        if args.check:
            todo = needs_encryption(cat, root)
            print(
                "Some sessions or patient records of this data folder are stored in the clear."
                if todo
                else "Everything in this data folder that is encrypted at rest is encrypted."
            )
            return 1 if todo else 0

        def progress(done: int, total: int, what: str) -> None:
            if not args.quiet:
                print(f"  {done}/{total} {what}", file=sys.stderr)

        try:
            result = encrypt_folder(
                cat, root, unlocked, Path(args.backup) if args.backup else None, progress
            )
        except PermissionError as exc:
            return _refuse(str(exc))
        except MigrationError as exc:
            return _refuse(str(exc))
    finally:
        cat.close()
    for line in result.resumed:
        print(f"Resumed: {line}")
    if result.backup is not None:
        print(f"Full backup made first: {result.backup}")
    print(
        f"Encrypted {len(result.sessions)} session(s) ({_size(result.bytes)}, every file "
        f"checked against its original) and {result.patients} patient record(s)."
    )
    if result.catalog:
        print("The catalog was converted to an encrypted one (every table's rows compared).")
    if result.left:
        print(f"Left for later (recording or being imported): {', '.join(result.left)}.")
        return 1
    return 0


def add_backup_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``backup``, ``restore`` and ``encrypt`` on the ``therascope`` parser's
    subcommands."""
    p = sub.add_parser(
        "encrypt",
        help="encrypt a data folder written before encryption at rest, in place, after a full "
        "backup (administrators; resumable: run it again after an interruption)",
    )
    p.add_argument(
        "--backup",
        metavar="FOLDER",
        help="a new folder for the full backup made first (needed unless an interrupted run "
        "made one)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="only say whether anything is stored in the clear (exit 1: yes)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_encrypt)

    p = sub.add_parser(
        "backup",
        help="copy the data folder (catalog, key store, patients, sessions) into a new folder "
        "while the app runs, with SHA-256 hashes; --verify checks one",
    )
    p.add_argument("dest", help="the backup folder: new or empty, outside the data folder")
    p.add_argument(
        "--verify",
        action="store_true",
        help="check the backup DEST against its hashes instead of making one (exit 1: problems)",
    )
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore",
        help="restore a backup into a new data folder (administrators); nothing the newest "
        "erasure ledger has erased comes back",
    )
    p.add_argument("backup", help="the backup folder")
    p.add_argument("--into", required=True, help="the new data folder (new or empty)")
    p.add_argument(
        "--ledger-from",
        action="append",
        metavar="DATA_DIR",
        help="also apply the erasure ledger of this data folder's key store (repeatable; the "
        "current data folder's is always applied)",
    )
    p.set_defaults(func=cmd_restore)
