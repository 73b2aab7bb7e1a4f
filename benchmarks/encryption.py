"""``--encrypted`` for the benchmarks: the scratch data folder gets a throwaway administrator and
is unlocked in this process, so every session file is sealed (core.security.vault), as in a
clinic's data folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# the checkout's packages: the editable install maps them only for the therascope command
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def add_flag(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--encrypted",
        action="store_true",
        help="encryption at rest on: the scratch data folder is unlocked by a throwaway account",
    )


def unlock_scratch(root: Path) -> str:
    """Make ``root`` an unlocked data folder (a throwaway account, fast key derivation is NOT
    used: the real Argon2id parameters, as a clinic's folder has); returns a line for the
    figures."""
    from core.security import vault
    from core.security.access import folder_has_accounts, throwaway_account, unlock

    password_file = root.parent / f".{root.name}-password"
    if not folder_has_accounts(root):  # a kept folder (--keep) is unlocked as it was made
        throwaway_account(root, password_file)
    password = password_file.read_text(encoding="utf-8").splitlines()[0]
    vault.register(root, unlock(root, "script", password))
    return "encryption at rest: on (AES-256-GCM sealed files, one key per session)"
