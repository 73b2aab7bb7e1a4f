"""``therascope users`` and ``therascope audit``: the clinic's accounts and who did what."""

from __future__ import annotations

import argparse
import json
import sys

from app.cli.common import new_password, open_catalog, open_unlocked_catalog, unlock_folder


def _first_password() -> str:
    """The first account's password: the file THERASCOPE_PASSWORD_FILE names, or typed twice."""
    import getpass

    from core.security.access import AccessRefused, credentials_from_environment

    creds = credentials_from_environment()
    if creds.password is not None:
        return creds.password
    if not sys.stdin.isatty():
        raise AccessRefused(
            "No password for the first account: type it at the prompt, or give it in the file "
            "that THERASCOPE_PASSWORD_FILE names (scripts)."
        )
    first = getpass.getpass("Password for the first account (at least 10 characters): ")
    if getpass.getpass("The same again: ") != first:
        raise AccessRefused("The two passwords differ; no account was created.")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from core.config import data_dir
    from core.security.access import (
        AccessRefused,
        create_first_account,
        folder_has_accounts,
        open_key_store,
    )
    from core.security.keystore import KeyStoreError

    root = data_dir(args.data_dir)
    try:
        if args.action == "list":
            if not folder_has_accounts(root):
                print("No account yet: therascope users add NAME --admin", file=sys.stderr)
                return 0
            for a in open_key_store(root).accounts():
                role = "administrator" if a.role == "admin" else "therapist"
                print(f"{a.name}\t{role}" + ("\tdisabled" if a.disabled else ""))
            return 0
        if not args.name and args.action != "passwd":
            raise AccessRefused(f"users {args.action} needs the account's name")
        if args.action == "add" and not folder_has_accounts(root):
            # the clinic's first account, on a folder without one: no unlock, an administrator
            unlocked, recovery = create_first_account(root, args.name, _first_password())
            from core.security import vault

            vault.register(root, unlocked)  # a new catalog is created encrypted
            _audit(args, unlocked.account.name, "create", f"account={unlocked.account.name}")
            print(
                "The clinic's first account was created (an administrator). Its RECOVERY KEY "
                "follows, shown only this once: write it down and keep it in a safe place; it "
                "opens the data if every password is lost.",
                file=sys.stderr,
            )
            print(recovery)
            return 0
        unlocked = unlock_folder(args, root)
        me = unlocked.account.name
        if args.action == "add":
            role = "admin" if args.admin else "therapist"
            acct = unlocked.add_account(args.name, new_password(args.name), role)
            _audit(args, me, "create", f"account={acct.name}; role={acct.role}")
            print(f"Account {acct.name} added ({'administrator' if args.admin else 'therapist'})")
        elif args.action == "reset":
            unlocked.reset_password(args.name, new_password(args.name))
            _audit(args, me, "update", f"account={args.name}; password reset")
            print(f"The password of {args.name} was reset")
        elif args.action == "passwd":
            from core.security.access import credentials_from_environment

            old = credentials_from_environment().password
            if old is None:
                import getpass

                old = getpass.getpass("Current password: ")
            unlocked.change_password(old, new_password(me))
            _audit(args, me, "update", f"account={me}; password changed")
            print(f"The password of {me} was changed")
        elif args.action == "disable":
            unlocked.disable_account(args.name)
            _audit(args, me, "update", f"account={args.name}; disabled")
            print(f"Account {args.name} disabled")
    except (KeyStoreError, PermissionError) as exc:
        raise AccessRefused(str(exc)) from None
    return 0


def _audit(args: argparse.Namespace, account: str, action: str, detail: str) -> None:
    """An account change in the catalog's audit trail (account names are not patient data)."""
    cat, _ = open_catalog(args, unlock=False)
    try:
        cat.account = account
        cat.audit(action, "account", None, detail)
    finally:
        cat.close()


def cmd_audit(args: argparse.Namespace) -> int:
    """The audit trail, newest first (administrators)."""
    from core.security.access import AccessRefused
    from core.timefmt import format_local_time

    cat, _root, unlocked = open_unlocked_catalog(args)  # unlocked first: the catalog's key
    try:
        if unlocked.account.role != "admin":
            raise AccessRefused("Only administrators read the audit trail.")
        cat.account = unlocked.account.name
        entries = cat.audit_log(limit=args.limit)
        cat.audit("export", "audit", None, f"rows={len(entries)}")
        if args.json:
            rows = [
                {
                    "at": e.at,
                    "account": e.account,
                    "action": e.action,
                    "entity": e.entity,
                    "entity_id": e.entity_id,
                    "detail": e.detail,
                }
                for e in entries
            ]
            print(json.dumps(rows, indent=2, ensure_ascii=False))
        else:
            for e in entries:
                what = f"{e.entity} {e.entity_id}" if e.entity_id is not None else e.entity
                print(
                    f"{format_local_time(e.at)}\t{e.account or '—'}\t{e.action}\t{what}\t{e.detail}"
                )
    finally:
        cat.close()
    return 0


def add_account_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "users",
        help="the clinic's accounts: list, add, reset a password, change your own, disable",
        description="The first account on a data folder (an administrator) needs no unlock; its "
        "password is typed twice or read from the file THERASCOPE_PASSWORD_FILE names, and its "
        "recovery key is printed once. Later: administrators add accounts and reset passwords "
        "(the new password typed twice, or read from the file THERASCOPE_NEW_PASSWORD_FILE "
        "names); everyone changes their own (passwd).",
    )
    p.add_argument("action", choices=["list", "add", "reset", "passwd", "disable"])
    p.add_argument("name", nargs="?", help="the account's name")
    p.add_argument("--admin", action="store_true", help="add: an administrator")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("audit", help="who did what, newest first (administrators)")
    p.add_argument("--limit", type=int, default=200, help="at most this many rows (200)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit)
