"""The key store: accounts, passwords, lockout, recovery key, wrapped keys and their erasure."""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.filelock import try_lock, unlock
from core.security import keystore as ks
from core.security.keystore import (
    DEFAULT_KDF,
    AccountLockedError,
    AccountNameError,
    KdfParams,
    KeyDestroyedError,
    KeyNotFoundError,
    KeyStore,
    KeyStoreExistsError,
    KeyStoreIntegrityError,
    PasswordRuleError,
    RecoveryKeyFormatError,
    WrongPasswordError,
    format_recovery_key,
    key_id,
    parse_recovery_key,
)

#: cheap Argon2id settings so the tests run fast (the defaults stay memory-hard)
FAST = KdfParams(time_cost=1, memory_cost=64, parallelism=1)
ADMIN_PW = "correct horse battery"
THERA_PW = "therapist password 1"
P1 = "0b0f6c1e-1111-4c4c-9c9c-000000000001"
P2 = "0b0f6c1e-2222-4c4c-9c9c-000000000002"


class FakeClock:
    def __init__(self) -> None:
        self.t = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def made(tmp_path: Path, clock: FakeClock) -> tuple[KeyStore, str]:
    return KeyStore.create(tmp_path / "keys.json", "Admin", ADMIN_PW, kdf=FAST, now=clock)


def reopen(store: KeyStore, clock: FakeClock) -> KeyStore:
    return KeyStore.open(store.path, kdf=FAST, now=clock)


def test_defaults_stay_memory_hard() -> None:
    assert DEFAULT_KDF.memory_cost >= 64 * 1024 and DEFAULT_KDF.time_cost >= 2


def test_create_unlock_and_wrong_password(made: tuple[KeyStore, str], clock: FakeClock) -> None:
    store, recovery = made
    assert KeyStore.exists(store.path)
    assert store.has_accounts
    assert [(a.name, a.role) for a in store.accounts()] == [("Admin", "admin")]
    with pytest.raises(KeyStoreExistsError):
        KeyStore.create(store.path, "Other", ADMIN_PW, kdf=FAST)
    s2 = reopen(store, clock)
    u = s2.unlock("admin", ADMIN_PW)  # names compare without case
    assert (u.account.name, u.account.role) == ("Admin", "admin")
    for name, pw in (("Admin", "wrong password!"), ("Nobody", ADMIN_PW)):
        with pytest.raises(WrongPasswordError) as err:
            s2.unlock(name, pw)
        assert str(err.value) == "Wrong name or password."
        assert pw not in str(err.value)
    assert ADMIN_PW not in repr(u)
    # the file holds no password and not the recovery text
    text = store.path.read_text()
    assert ADMIN_PW not in text and recovery.replace("-", "") not in text.replace("-", "")


def test_rules_for_names_and_passwords(made: tuple[KeyStore, str]) -> None:
    store, _ = made
    u = store.unlock("Admin", ADMIN_PW)
    with pytest.raises(PasswordRuleError, match="at least 10"):
        u.add_account("Tom", "short")
    with pytest.raises(AccountNameError):
        u.add_account("ADMIN", THERA_PW)  # taken, whatever the case
    for bad in ("", "   ", "x" * 65, "bad\nname"):
        with pytest.raises(AccountNameError):
            u.add_account(bad, THERA_PW)
    with pytest.raises(PasswordRuleError):
        KeyStore.create(store.path.with_name("k2.json"), "A", "123456789", kdf=FAST)


def test_lockout_after_five_persisted_and_reset_by_success(
    made: tuple[KeyStore, str], clock: FakeClock
) -> None:
    store, _ = made
    for _ in range(4):
        with pytest.raises(WrongPasswordError):
            store.unlock("Admin", "not the password")
    store.unlock("Admin", ADMIN_PW)  # a success clears the count
    for _ in range(5):
        with pytest.raises(WrongPasswordError):
            store.unlock("Admin", "not the password")
    # locked now — even the right password, and after a restart
    with pytest.raises(AccountLockedError, match="locked until") as err:
        reopen(store, clock).unlock("Admin", ADMIN_PW)
    assert err.value.until == clock.t + timedelta(seconds=30)
    assert ADMIN_PW not in str(err.value)
    clock.advance(31)
    with pytest.raises(WrongPasswordError):  # sixth failure: locked for 60 s
        reopen(store, clock).unlock("Admin", "still wrong!")
    with pytest.raises(AccountLockedError) as err:
        store.unlock("Admin", ADMIN_PW)
    assert err.value.until == clock.t + timedelta(seconds=60)
    clock.advance(61)
    store.unlock("Admin", ADMIN_PW)
    acc = json.loads(store.path.read_text())["accounts"][0]
    assert acc["failed_attempts"] == 0 and acc["locked_until"] is None


def test_lockout_doubles_up_to_fifteen_minutes(
    made: tuple[KeyStore, str], clock: FakeClock
) -> None:
    store, _ = made
    delays = []
    for _ in range(12):
        with pytest.raises(WrongPasswordError):
            store.unlock("Admin", "wrong wrong")
        until = json.loads(store.path.read_text())["accounts"][0]["locked_until"]
        if until:
            delays.append((datetime.fromisoformat(until) - clock.t).total_seconds())
            clock.advance(delays[-1] + 1)
    assert delays == [30, 60, 120, 240, 480, 900, 900, 900]


def test_recovery_key(made: tuple[KeyStore, str], clock: FakeClock) -> None:
    store, recovery = made
    groups = recovery.split("-")
    assert len(groups) == 14 and all(len(g) == 4 for g in groups)
    u = store.unlock_with_recovery(recovery.lower().replace("-", " "))
    assert u.account.role == "admin"
    u.reset_password("Admin", "a brand new password")
    store.unlock("Admin", "a brand new password")
    # one character mistyped: the check letters catch it (not counted as a guess)
    i = 7
    wrong = recovery[:i] + ("A" if recovery[i] != "A" else "B") + recovery[i + 1 :]
    with pytest.raises(RecoveryKeyFormatError, match="typing mistake") as err:
        store.unlock_with_recovery(wrong)
    assert wrong not in str(err.value)
    with pytest.raises(RecoveryKeyFormatError):
        store.unlock_with_recovery(recovery[:-1])
    # a well-formed key of another clinic: wrong, counted, locked after five
    other = format_recovery_key(os.urandom(32))
    for _ in range(5):
        with pytest.raises(WrongPasswordError):
            store.unlock_with_recovery(other)
    with pytest.raises(AccountLockedError):
        reopen(store, clock).unlock_with_recovery(recovery)
    clock.advance(31)
    store.unlock_with_recovery(recovery)


def test_recovery_text_round_trip() -> None:
    key = os.urandom(32)
    text = format_recovery_key(key)
    assert parse_recovery_key(text) == key
    assert parse_recovery_key(text.replace("0", "o").replace("1", "l").lower()) == key


def test_roles_and_passwords(made: tuple[KeyStore, str], clock: FakeClock) -> None:
    store, _ = made
    admin = store.unlock("Admin", ADMIN_PW)
    admin.add_account("Dr Lee", THERA_PW)
    assert [(a.name, a.role) for a in store.accounts()] == [
        ("Admin", "admin"),
        ("Dr Lee", "therapist"),
    ]
    thera = reopen(store, clock).unlock("dr lee", THERA_PW)
    assert thera.account.role == "therapist"
    with pytest.raises(PermissionError):
        thera.add_account("Eve", "eve's password")
    with pytest.raises(PermissionError):
        thera.reset_password("Admin", "taken over!!")
    with pytest.raises(PermissionError):
        thera.disable_account("Admin")
    # own password
    with pytest.raises(WrongPasswordError):
        thera.change_password("not my password", "a new password")
    thera.change_password(THERA_PW, "a new password")
    with pytest.raises(WrongPasswordError):
        store.unlock("Dr Lee", THERA_PW)
    store.unlock("Dr Lee", "a new password")
    # an administrator resets it
    admin.reset_password("Dr Lee", "reset by admin")
    store.unlock("Dr Lee", "reset by admin")
    # disabled: the password opens nothing any more, and the wrapped key is gone from the file
    admin.disable_account("Dr Lee")
    with pytest.raises(WrongPasswordError):
        store.unlock("Dr Lee", "reset by admin")
    assert json.loads(store.path.read_text())["accounts"][1]["clinic_key"] is None
    with pytest.raises(PermissionError):
        admin.disable_account("Admin")  # the last administrator
    admin.reset_password("Dr Lee", "enabled again")
    store.unlock("Dr Lee", "enabled again")


def test_keys_stable_across_reopen_and_accounts(
    made: tuple[KeyStore, str], clock: FakeClock
) -> None:
    store, recovery = made
    admin = store.unlock("Admin", ADMIN_PW)
    admin.add_account("Dr Lee", THERA_PW)
    pk = admin.patient_key(P1)
    sk = admin.session_key("S-0001", P1)
    assert len(pk) == len(sk) == 32 and pk != sk
    assert admin.key_id(sk) == key_id(sk) and len(key_id(sk)) == 8
    thera = reopen(store, clock).unlock("Dr Lee", THERA_PW)
    assert thera.patient_key(P1, create=False) == pk
    assert thera.session_key("S-0001", P1, create=False) == sk
    rec = reopen(store, clock).unlock_with_recovery(recovery)
    assert rec.session_key("S-0001", P1) == sk
    # a session key made with a new patient makes the patient's key too
    sk2 = thera.session_key("S-0002", P2)
    assert admin.session_key("S-0002", P2) == sk2
    assert admin.patient_key(P2, create=False) == thera.patient_key(P2)
    with pytest.raises(KeyNotFoundError):
        admin.session_key("S-0003", P1, create=False)
    with pytest.raises(KeyNotFoundError):
        admin.patient_key("no-such-patient", create=False)
    with pytest.raises(KeyStoreIntegrityError):
        admin.session_key("S-0001", P2)  # filed under P1


def test_wrapped_key_moved_to_another_slot_fails(made: tuple[KeyStore, str]) -> None:
    store, _ = made
    u = store.unlock("Admin", ADMIN_PW)
    u.patient_key(P1)
    u.patient_key(P2)
    u.session_key("S-1", P1)
    u.session_key("S-2", P1)
    doc = json.loads(store.path.read_text())
    doc["patients"][P2] = doc["patients"][P1]  # same clinic key, another place
    doc["sessions"]["S-2"]["key"] = doc["sessions"]["S-1"]["key"]  # same patient key
    store.path.write_text(json.dumps(doc))
    with pytest.raises(KeyStoreIntegrityError):
        u.patient_key(P2)
    with pytest.raises(KeyStoreIntegrityError):
        u.session_key("S-2", P1)
    assert len(u.session_key("S-1", P1)) == 32


def test_destroy_session_and_patient_keys(made: tuple[KeyStore, str], clock: FakeClock) -> None:
    store, _ = made
    u = store.unlock("Admin", ADMIN_PW)
    u.session_key("S-1", P1)
    u.session_key("S-2", P1)
    keep = u.session_key("S-3", P2)
    before = json.loads(store.path.read_text())
    wrapped_s1 = before["sessions"]["S-1"]["key"]["data"]
    wrapped_s2 = before["sessions"]["S-2"]["key"]["data"]
    wrapped_p1 = before["patients"][P1]["data"]

    u.destroy_session_key("S-1")
    with pytest.raises(KeyDestroyedError):
        u.session_key("S-1", P1)
    with pytest.raises(KeyDestroyedError):
        reopen(store, clock).unlock("Admin", ADMIN_PW).session_key("S-1", P1, create=False)
    assert [(e.kind, e.id) for e in u.ledger()] == [("session", "S-1")]
    assert u.ledger()[0].destroyed_at == clock.t.isoformat()
    assert wrapped_s1 not in store.path.read_text()

    clock.advance(60)
    u.destroy_patient_key(P1)
    for uid in ("S-1", "S-2"):
        with pytest.raises(KeyDestroyedError):
            u.session_key(uid, P1)
    with pytest.raises(KeyDestroyedError):
        u.patient_key(P1)
    with pytest.raises(KeyDestroyedError):
        u.session_key("S-new", P1)  # no new keys for an erased patient
    assert {(e.kind, e.id) for e in u.ledger()} == {
        ("session", "S-1"),
        ("session", "S-2"),
        ("patient", P1),
    }
    text = store.path.read_text()
    for wrapped in (wrapped_s1, wrapped_s2, wrapped_p1):
        assert wrapped not in text
    doc = json.loads(text)
    assert P1 not in doc["patients"] and set(doc["sessions"]) == {"S-3"}
    assert u.session_key("S-3", P2) == keep  # the other patient is untouched
    u.destroy_session_key("S-1")  # again: nothing changes
    assert len(u.ledger()) == 3


def test_merge_ledger_after_restoring_an_older_copy(
    made: tuple[KeyStore, str], clock: FakeClock, tmp_path: Path
) -> None:
    store, _ = made
    u = store.unlock("Admin", ADMIN_PW)
    u.session_key("S-1", P1)
    u.session_key("S-2", P2)
    backup = tmp_path / "backup" / "keys.json"
    backup.parent.mkdir()
    backup.write_bytes(store.path.read_bytes())
    u.destroy_patient_key(P1)
    u.destroy_session_key("S-2")
    restored = KeyStore.open(backup, kdf=FAST, now=clock)
    r = restored.unlock("Admin", ADMIN_PW)
    assert len(r.session_key("S-1", P1)) == 32  # the old copy still has them
    assert r.merge_ledger(store) == 3
    with pytest.raises(KeyDestroyedError):
        r.session_key("S-1", P1)
    with pytest.raises(KeyDestroyedError):
        r.session_key("S-2", P2)
    assert r.ledger() == u.ledger()  # the times travel too
    assert r.merge_ledger(u.ledger()) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_file_mode_0600(made: tuple[KeyStore, str]) -> None:
    store, _ = made
    store.unlock("Admin", ADMIN_PW).patient_key(P1)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.lock_path.stat().st_mode) == 0o600


def test_failed_write_leaves_the_old_file(
    made: tuple[KeyStore, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = made
    u = store.unlock("Admin", ADMIN_PW)
    u.patient_key(P1)
    before = store.path.read_bytes()

    def no_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ks.os, "fsync", no_fsync)
    with pytest.raises(OSError):
        u.patient_key(P2)
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["keys.json", "keys.json.lock"]
    with pytest.raises(KeyNotFoundError):
        u.patient_key(P2, create=False)


def test_two_writers_keep_both_changes(made: tuple[KeyStore, str], clock: FakeClock) -> None:
    store, _ = made
    a = store.unlock("Admin", ADMIN_PW)
    b = reopen(store, clock).unlock("Admin", ADMIN_PW)  # read before a's changes
    ka = a.session_key("S-A", P1)
    kb = b.session_key("S-B", P1)  # b re-reads under the lock: P1's key is a's
    a.add_account("Dr Lee", THERA_PW)
    b.destroy_session_key("S-A")
    doc = json.loads(store.path.read_text())
    assert set(doc["sessions"]) == {"S-B"}
    assert [a["name"] for a in doc["accounts"]] == ["Admin", "Dr Lee"]
    assert a.session_key("S-B", P1) == kb
    assert ka != kb


def test_store_busy_while_another_holds_the_lock(
    made: tuple[KeyStore, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = made
    monkeypatch.setattr(ks, "LOCK_WAIT_S", 0.1)
    with open(store.lock_path, "a+b") as fh:
        assert try_lock(fh)
        with pytest.raises(ks.KeyStoreBusyError):
            KeyStore.open(store.path, kdf=FAST).unlock("Admin", ADMIN_PW)
        unlock(fh)
    store.unlock("Admin", ADMIN_PW)
