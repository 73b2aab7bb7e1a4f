"""Interrupting a piece of work at its k-th file-system step, for crash-safety tests.

``killed_at`` runs the work in a forked child that SIGKILLs itself just before its k-th step, as
a power cut or the OOM killer would: no ``except`` or ``finally`` runs, held OS locks go with the
process. ``failing_at`` makes the k-th step raise instead, in this process (the error paths).
Steps: ``os.replace``, ``os.rename``, ``os.fsync``, ``os.unlink``, ``os.rmdir``, ``os.mkdir``
(pathlib and shutil go through them), plus any methods named in ``also``. Looping k from 1 until
the work completes visits every step.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import pytest

STEPS = ("replace", "rename", "fsync", "unlink", "rmdir", "mkdir")

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def _wrap(real: Callable[..., Any], step: Callable[[], None]) -> Callable[..., Any]:
    def f(*a: Any, **k: Any) -> Any:
        step()
        return real(*a, **k)

    return f


def _patch(step: Callable[[], None], also: Iterable[tuple[Any, str]], setattr_: Any) -> None:
    for name in STEPS:
        setattr_(os, name, _wrap(getattr(os, name), step))
    for owner, name in also:
        setattr_(owner, name, _wrap(getattr(owner, name), step))


def killed_at(k: int, work: Callable[[], object], also: Iterable[tuple[Any, str]] = ()) -> bool:
    """Run ``work`` in a child killed (SIGKILL) just before its k-th step.

    Returns
    -------
    bool — True when the child was killed, False when the work completed first

    Raises
    ------
    AssertionError — the work failed in the child (its traceback is printed)
    """
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            count = 0

            def step() -> None:
                nonlocal count
                count += 1
                if count == k:
                    os.kill(os.getpid(), signal.SIGKILL)

            _patch(step, also, setattr)
            work()
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, "the work failed in the child"
    return False


class Failing:
    """The k-th step raises ``exc`` (once); ``reached`` says whether it came."""

    def __init__(self, k: int, exc: BaseException) -> None:
        self.k, self.exc, self.count = k, exc, 0

    @property
    def reached(self) -> bool:
        return self.count >= self.k

    def step(self) -> None:
        self.count += 1
        if self.count == self.k:
            raise self.exc


def failing_at(
    monkeypatch: pytest.MonkeyPatch,
    k: int,
    exc: BaseException,
    also: Iterable[tuple[Any, str]] = (),
) -> Failing:
    """Make the k-th step from now raise ``exc`` (undone with ``monkeypatch.undo()``)."""
    failing = Failing(k, exc)
    _patch(failing.step, also, monkeypatch.setattr)
    return failing
