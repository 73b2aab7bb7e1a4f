"""Screens print the computer's local time with its zone (the catalog keeps UTC)."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.gui.main import create_window
from core.timefmt import format_local_time
from tests.app.review_data import record_short


@pytest.fixture
def berlin(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_format_local_time_names_the_zone(berlin):
    assert format_local_time("2026-12-05T12:42:00+00:00") == "2026-12-05 13:42 CET"
    assert format_local_time("2026-07-05T12:42:00+00:00") == "2026-07-05 14:42 CEST"
    assert format_local_time("2026-12-05T12:42:00") == "2026-12-05 13:42 CET"  # naive = UTC
    assert format_local_time(None) == "–" and format_local_time("", missing="—") == "—"
    assert format_local_time("not a time") == "not a time"


def test_review_playback_and_patient_page_show_local_time(qtbot, app_env, berlin):
    w, _ = create_window(demo=False)
    qtbot.addWidget(w)
    w.show()
    p = w.catalog.add_patient("TZ-1")
    rec = record_short(w.catalog, w.data_root, p.id, 3.0)
    local = datetime.fromisoformat(rec.started_at).astimezone(ZoneInfo("Europe/Berlin"))
    shown = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
    w.show_review(rec.id)
    assert shown in w.review.title.text() and "UTC" not in w.review.title.text()
    w.show_playback(rec.id)
    assert shown in w.playback.title.text()
    w.show_patient(p.id)
    assert w.patient.table.item(0, 1).text() == shown
    w.review.shutdown()
