"""Default export file names (issue 13, part 5): the patient code is typed by the therapist, so the
name the save dialog offers for a report or a figure is made one safe file name in the chosen
folder — no separators, no "..", no control characters, nothing Windows refuses or keeps for a
device, not too long."""

from __future__ import annotations

import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QWidget

from app.gui.figure_export import save_figure
from app.gui.report_export import export_session_report
from tests.app.review_data import make_analysed

UID = "20261205T144716Z-1cc166"
CODES = [
    "../../etc/x",
    "..\\..\\Windows\\x",
    "A/B",
    "CON",
    "nul.txt",
    "COM1",
    "lpt9 ",
    "é 你好",
    "a\x00b",
    "tab\there",
    "line\nbreak",
    "rtl\u202efdp.exe",
    "..",
    ".",
    " ",
    "trailing dot.",
    "C:\\x",
    '<>:"|?*',
    "x" * 300,
    "你" * 200,
]
RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{d}{n}" for d in ("COM", "LPT") for n in (*"0123456789", "¹", "²", "³")
}


def assert_one_safe_name(name: str, folder: Path) -> None:
    """``name`` names one file directly in ``folder``, on Windows, macOS and Linux."""
    assert name not in ("", ".", "..")
    assert not any(ch in name for ch in '/\\<>:"|?*'), name
    assert ".." not in name
    assert not any(unicodedata.category(ch)[0] == "C" for ch in name), repr(name)
    assert not name.endswith((".", " ")) and not name.startswith((".", " "))
    assert name.split(".")[0].upper() not in RESERVED
    assert len(name.encode("utf-8")) <= 255
    assert PureWindowsPath(name).name == name and PurePosixPath(name).name == name
    assert (folder / name).resolve().parent == folder.resolve()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.setenv("USERPROFILE", str(folder))
    return folder


@pytest.fixture
def offered(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """The default paths the save dialog is opened with; the therapist cancels each."""
    seen: list[str] = []

    def ask(parent, caption, default, *a, **k):  # type: ignore[no-untyped-def]
        seen.append(default)
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", ask)
    return seen


@pytest.mark.parametrize("code", CODES)
def test_report_default_name(qtbot, home, offered, code):
    parent = QWidget()
    qtbot.addWidget(parent)
    patient = SimpleNamespace(code=code, name=None)
    catalog = SimpleNamespace(get_patient=lambda _id: patient)
    rec = SimpleNamespace(status="finalised", patient_id=1, uid=UID, id=1)
    started = export_session_report(
        parent,
        catalog,
        home,
        rec,
        lambda _p: None,
        lambda _m: None,  # type: ignore[arg-type]
    )
    assert started is False  # cancelled: nothing built
    (default,) = offered
    path = Path(default)
    assert path.parent == home
    assert_one_safe_name(path.name, home)
    assert path.name.startswith("TheraScope_") and path.name.endswith(f"_{UID}.pdf")


@pytest.mark.parametrize("code", CODES)
def test_figure_default_name(qtbot, home, offered, code):
    parent = QWidget()
    qtbot.addWidget(parent)
    # the review screen builds the name with the code as typed; save_figure makes it safe
    assert save_figure(parent, object(), f"TheraScope_{code}_{UID}.png") is None
    (default,) = offered
    path = Path(default)
    assert path.parent == home
    assert_one_safe_name(path.name, home)
    assert path.name.startswith("TheraScope_") and path.name.endswith(f"_{UID}.png")


def test_readable_codes_stay_readable():
    from app.gui.report_export import default_report_name

    assert default_report_name("P-07", UID) == f"TheraScope_P-07_{UID}.pdf"
    assert default_report_name("é 你好", UID) == f"TheraScope_é_你好_{UID}.pdf"
    assert default_report_name("../../etc/x", UID) == f"TheraScope_etc_x_{UID}.pdf"
    assert default_report_name("CON", UID) == f"TheraScope_CON_{UID}.pdf"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["", ".pdf", ".png", ".SVG"]))
def test_any_text_makes_one_safe_name(text, suffix):
    from core.filenames import safe_file_name, safe_name_part

    folder = Path("/tmp/folder")
    part = safe_name_part(text)
    assert_one_safe_name(part, folder)
    assert len(part.encode("utf-8")) <= 64
    name = safe_file_name(text + suffix)
    assert_one_safe_name(name, folder)
    assert name.endswith(suffix.lower())


def test_from_the_review_screen(win, qtbot, home, offered):
    """End to end: a patient whose code is a path; the report button and Export figure…"""
    p = win.catalog.add_patient("../../etc/x")
    rec, _ = make_analysed(win.catalog, win.data_root, p.id)
    win.show_review(rec.id)
    qtbot.mouseClick(win.review.report_btn, Qt.MouseButton.LeftButton)
    assert win.review.export_figure() is None
    report, figure = (Path(x) for x in offered)
    assert report == home / f"TheraScope_etc_x_{rec.uid}.pdf"
    assert figure == home / f"TheraScope_etc_x_{rec.uid}.png"
