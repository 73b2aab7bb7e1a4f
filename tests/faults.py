"""Storage faults injected where the system reports them, for tests that run as root (CI), where
file modes do not stop a write.

``read_only(monkeypatch, root)`` makes every write under ``root`` fail as on a read-only disk
(``EROFS``): creating folders, opening files for writing, replacing, removing; SQLite (and
SQLCipher, for an encrypted catalog) opens catalogs under ``root`` read-only (SQLITE_READONLY on
any write). A full catalog is made with SQLite's ``max_page_count`` (SQLITE_FULL), a read-only
open catalog with ``query_only``.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import sqlite3
from pathlib import Path

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _under(path: object, root: Path) -> bool:
    try:
        p = Path(os.fsdecode(path)).absolute()  # type: ignore[arg-type]
    except TypeError:
        return False
    return p == root or root in p.parents


def read_only(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    root = root.absolute()
    err = errno.EROFS

    def refuse(path: object) -> OSError:
        return OSError(err, os.strerror(err), os.fsdecode(path))  # type: ignore[arg-type]

    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir
    real_replace, real_rename, real_unlink, real_rmdir = os.replace, os.rename, os.unlink, os.rmdir
    real_connect = sqlite3.connect

    def fake_open(file, mode="r", *a, **k):  # type: ignore[no-untyped-def]
        writes = any(c in mode for c in "wax+")
        if writes and isinstance(file, str | bytes | os.PathLike) and _under(file, root):
            raise refuse(file)
        return real_open(file, mode, *a, **k)

    def fake_os_open(path, flags, *a, **k):  # type: ignore[no-untyped-def]
        if flags & _WRITE_FLAGS and _under(path, root):
            raise refuse(path)
        return real_os_open(path, flags, *a, **k)

    def fake_mkdir(path, *a, **k):  # type: ignore[no-untyped-def]
        if _under(path, root) and not os.path.isdir(path):
            raise refuse(path)
        return real_mkdir(path, *a, **k)

    def guarded(real):  # type: ignore[no-untyped-def]
        def f(src, *a, **k):  # type: ignore[no-untyped-def]
            if _under(src, root):
                raise refuse(src)
            return real(src, *a, **k)

        return f

    def fake_connect(database, *a, **k):  # type: ignore[no-untyped-def]
        if isinstance(database, str | os.PathLike) and _under(database, root):
            k.pop("uri", None)
            return real_connect(f"file:{os.fspath(database)}?mode=ro", *a, uri=True, **k)
        return real_connect(database, *a, **k)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)
    monkeypatch.setattr(os, "replace", guarded(real_replace))
    monkeypatch.setattr(os, "rename", guarded(real_rename))
    monkeypatch.setattr(os, "unlink", guarded(real_unlink))
    monkeypatch.setattr(os, "rmdir", guarded(real_rmdir))
    monkeypatch.setattr(sqlite3, "connect", fake_connect)
    # an encrypted catalog is opened through SQLCipher's binding: read-only there too
    real_cipher_connect = sqlcipher.connect

    def fake_cipher_connect(database, *a, **k):  # type: ignore[no-untyped-def]
        if isinstance(database, str | os.PathLike) and _under(database, root):
            k.pop("uri", None)
            return real_cipher_connect(f"file:{os.fspath(database)}?mode=ro", *a, uri=True, **k)
        return real_cipher_connect(database, *a, **k)

    monkeypatch.setattr(sqlcipher, "connect", fake_cipher_connect)
