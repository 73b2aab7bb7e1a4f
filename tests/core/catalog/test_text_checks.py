"""Free text is checked before it is stored: control characters and over-long texts are refused
with a message; line breaks in notes, right-to-left marks and emoji joiners are kept."""

from __future__ import annotations

import pytest

from core.catalog import MAX_LABEL_LEN, MAX_NAME_LEN, MAX_NOTES_LEN, Catalog


@pytest.fixture
def cat(tmp_path):
    with Catalog.open(tmp_path / "catalog.sqlite") as c:
        yield c


@pytest.mark.parametrize("bad", ["a\x00b", "tab\there", "esc\x1b[31m", "bell\x07", "\ud800"])
def test_control_characters_are_refused_in_names_and_labels(cat, bad):
    with pytest.raises(ValueError, match="control character"):
        cat.add_patient("T-1", name=bad)
    assert cat.patient_by_code("T-1") is None
    p = cat.add_patient("T-2")
    s = cat.create_session(
        patient_id=p.id,
        uid="20261205T000000Z-aaaaaa",
        started_at="2026-12-05T00:00:00Z",
        devices={},
        settings={},
        consent_at="2026-12-05T00:00:00Z",
        consent_note="",
        simulated=True,
        folder="sessions/20261205T000000Z-aaaaaa",
    )
    with pytest.raises(ValueError, match="control character"):
        cat.add_marker(s.id, 1.0, "note", bad)
    m = cat.add_marker(s.id, 1.0, "note", "fine")
    with pytest.raises(ValueError, match="control character"):
        cat.update_marker(m.id, label=bad)
    assert cat.list_markers(s.id)[0].label == "fine"


def test_notes_keep_line_breaks_but_refuse_other_controls(cat):
    p = cat.add_patient("T-3", notes="line one\nline two\ttabbed")
    assert p.notes == "line one\nline two\ttabbed"
    with pytest.raises(ValueError, match=r"control character \(U\+0000\)"):
        cat.update_patient(p.id, notes="x\x00")


def test_right_to_left_marks_and_emoji_joiners_are_kept(cat):
    name = "\u200fשלום \U0001f469\u200d\u2695\ufe0f 你好"
    assert cat.add_patient("T-4", name=name).name == name


def test_over_long_texts_are_refused_with_the_limit(cat):
    with pytest.raises(ValueError, match=f"at most {MAX_NAME_LEN:,}"):
        cat.add_patient("T-5", name="n" * (MAX_NAME_LEN + 1))
    with pytest.raises(ValueError, match=f"at most {MAX_NOTES_LEN:,}"):
        cat.add_patient("T-6", notes="n" * (MAX_NOTES_LEN + 1))
    p = cat.add_patient("T-7", name="n" * MAX_NAME_LEN, notes="n" * MAX_NOTES_LEN)
    assert len(p.notes) == MAX_NOTES_LEN
    assert MAX_LABEL_LEN >= 500  # a marker says what happened in a sentence or two
