"""A throwaway account for tests that run TheraScope's command line or GUI on a data folder: the
real data folder always needs one (core/security/access.py)."""

from __future__ import annotations

from pathlib import Path

from core.security.keystore import KdfParams

#: Argon2id at its cheapest: the tests' accounts unlock in microseconds (never in production)
FAST_KDF = KdfParams(time_cost=1, memory_cost=64, parallelism=1)
#: the account every test acts as (an administrator)
TEST_USER = "tester"
TEST_PASSWORD = "a throwaway password"


def make_account(data: Path, password_file: Path) -> dict[str, str]:
    """Create the test administrator in the data folder ``data`` (made if needed) and write its
    password to ``password_file``; returns the environment that unlocks as it."""
    from core.security.access import create_first_account

    data.mkdir(parents=True, exist_ok=True)
    create_first_account(data, TEST_USER, TEST_PASSWORD, kdf=FAST_KDF)
    password_file.write_text(TEST_PASSWORD + "\n", encoding="utf-8")
    return {"THERASCOPE_USER": TEST_USER, "THERASCOPE_PASSWORD_FILE": str(password_file)}


def unlock_here(data: Path) -> None:
    """Let this test process read the sealed sessions of ``data`` (recorded by a command line or
    GUI that unlocked it as the test account)."""
    from core.security import vault
    from core.security.access import unlock

    vault.register(data, unlock(data, TEST_USER, TEST_PASSWORD))
