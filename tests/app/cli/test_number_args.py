"""Numbers on the command line (issue 13, part 5): NaN, infinities, negative, zero and absurd values
are refused by argparse (exit code 2, one line naming the allowed range), and the simulated
recording underneath refuses them too instead of leaving an empty "finalised" session."""

from __future__ import annotations

import argparse
import math

import pytest

from app.cli.main import main
from app.demo.simulation import record_simulated
from core.catalog import Catalog
from core.config import data_dir
from tests.app.review_data import SMALL

NON_FINITE = ["nan", "NaN", "inf", "-inf", "1e308", "1e400"]


def refused(capsys, argv: list[str]) -> str:  # type: ignore[no-untyped-def]
    """Run ``therascope argv``: argparse must refuse it (exit code 2); its error line."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def files(root):  # type: ignore[no-untyped-def]
    """Everything under ``root`` but the catalog's own files (SQLite adds its journals)."""
    return {p for p in root.rglob("*") if not p.name.startswith("catalog.sqlite")}


def catalog() -> Catalog:
    return Catalog.open(data_dir() / "catalog.sqlite")


@pytest.mark.parametrize("value", [*NON_FINITE, "-5", "0", "0.5", "86401", "1e9", "two"])
def test_record_duration_out_of_range_is_refused_and_nothing_recorded(app_env, capsys, value):
    catalog().add_patient("P-1")
    line = refused(
        capsys,
        ["record", "--patient", "P-1", "--simulate", "--virtual", "--consent", "--quiet",
         "--no-video", f"--duration={value}"],
    )  # fmt: skip
    assert "argument --duration: expected a number of seconds from 1 to 86400 (24 h)" in line
    assert f"got {value!r}" in line
    assert catalog().list_sessions() == []


@pytest.mark.parametrize(
    ("argv", "option", "values", "allowed"),
    [
        (["record", "--patient", "P-1", "--simulate"], "--seed", ["-1", "1.5", "4294967296", "nan"],
         "a whole number from 0 to 4294967295"),
        (["devices"], "--seconds", [*NON_FINITE, "0", "-1", "301"],
         "a number of seconds above 0 and at most 300"),
        (["analyse", "S-1"], "--fps", [*NON_FINITE, "0", "-4", "0.1", "61"],
         "a number of frames per second from 0.25 to 60"),
        (["train", "--demo"], "--batch", ["0", "-1", "nan", "1e308", "65537"],
         "a whole number from 1 to 65536"),
        (["train", "--demo"], "--lr", [*NON_FINITE, "0", "-1e-4", "2"],
         "a number above 0 and at most 1"),
        (["train", "--demo"], "--frame-step", ["0", "-1", "nan", "1001"],
         "a whole number from 1 to 1000"),
        (["train", "--demo"], "--face-size", ["0", "-224", "nan", "100000"],
         "a whole number of pixels from 32 to 1024"),
        (["train", "--demo"], "--ecg-column", ["-1", "17", "nan"],
         "a whole number from 0 to 16"),
        (["train", "--demo"], "--seed", ["-1", "nan", "1e308"],
         "a whole number from 0 to 4294967295"),
        (["train", "--demo"], "--epochs", ["nan,5,10", "1,2", "-1,5,10", "10,5,1e308", "1,2,3,4",
                                           "10,5,1001"],
         'three whole numbers from 0 to 1000 for the BMMN, BAE and joint stages'),
        (["train", "--demo"], "--participants", ["1-nan", "0-3", "5-2", "1e308", "1-1001", "-3"],
         "participant numbers from 1 to 1000"),
        (["evaluate", "--amigos", "nowhere", "--out-dir", "out"], "--folds", ["0", "1", "nan",
                                                                              "101"],
         "a whole number from 2 to 100"),
        (["synthetic-amigos", "out"], "--seconds", [*NON_FINITE, "0", "-1", "3601"],
         "a number of seconds above 0 and at most 3600"),
        (["synthetic-amigos", "out"], "--participants", ["0", "-1", "nan", "101"],
         "a whole number from 1 to 100"),
        (["synthetic-amigos", "out"], "--trials", ["0", "-1", "nan", "21"],
         "a whole number from 1 to 20"),
    ],
)  # fmt: skip
def test_every_number_argument_refuses_nonsense_with_its_range(
    app_env, tmp_path, monkeypatch, capsys, argv, option, values, allowed
):
    monkeypatch.chdir(tmp_path)  # where "out" would be written, were anything run
    for value in values:
        line = refused(capsys, [*argv, f"{option}={value}"])
        assert f"argument {option}: expected {allowed}" in line, line
        assert f"got {value!r}" in line, line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "1", "-0.1"])
def test_record_drop_prob_out_of_range(app_env, value):
    """``--drop-prob`` keeps its own refusal (``cmd_record``, before anything is opened)."""
    catalog().add_patient("P-1")
    argv = ["record", "--patient", "P-1", "--simulate", "--virtual", "--consent", "--quiet"]
    with pytest.raises(SystemExit, match="--drop-prob is a probability"):
        main([*argv, "--duration", "2", f"--drop-prob={value}"])
    assert catalog().list_sessions() == []


def test_the_range_ends_are_accepted():
    from app.cli.main import build_parser

    ap = build_parser()
    ok = ap.parse_args(["record", "--patient", "P", "--duration", "1", "--drop-prob", "0"])
    assert ok.duration == 1.0 and ok.drop_prob == 0.0 and ok.seed == 0
    ok = ap.parse_args(["record", "--patient", "P", "--duration", "86400", "--seed", "4294967295"])
    assert ok.duration == 86400.0 and ok.seed == 4294967295
    ok = ap.parse_args(["analyse", "S", "--fps", "0.25"])
    assert ok.fps == 0.25
    ok = ap.parse_args(["train", "--epochs", " 0, 5,1000", "--participants", "1-3, 7", "--lr", "1"])
    assert ok.epochs == "0,5,1000" and ok.participants == "1-3,7" and ok.lr == 1.0
    ok = ap.parse_args(["synthetic-amigos", "o", "--seconds", "3600", "--trials", "20"])
    assert ok.seconds == 3600.0 and ok.trials == 20


def test_bounded_factory():
    from app.cli.arguments import bounded

    minutes = bounded(float, 1, 60, unit="minutes")
    assert minutes("2.5") == 2.5 and minutes(" 60 ") == 60.0
    for bad in ("nan", "inf", "-inf", "1e308", "0", "", "1,5"):
        with pytest.raises(
            argparse.ArgumentTypeError, match="expected a number of minutes from 1 to 60, got"
        ):
            minutes(bad)
    count = bounded(int, 1, 10)
    assert count("10") == 10 and isinstance(count("3"), int)
    for bad in ("1.0", "11", "nan", "9" * 5000):
        with pytest.raises(
            argparse.ArgumentTypeError, match="expected a whole number from 1 to 10"
        ):
            count(bad)
    with pytest.raises(ValueError):
        bounded(float, 0, math.inf)


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -math.inf, 1e308, 0.0, -5.0, 0.5, 1e-300,
                                     86401.0])  # fmt: skip
def test_record_simulated_refuses_a_duration_before_recording(tmp_path, seconds):
    cat = Catalog.open(tmp_path / "catalog.sqlite")
    p = cat.add_patient("P-1")
    before = files(tmp_path)
    with pytest.raises(ValueError, match=r"A session lasts from 1 s to 86400 s \(24 h\)"):
        record_simulated(cat, tmp_path, p.id, seconds, settings=SMALL)
    assert cat.list_sessions() == []
    assert files(tmp_path) == before  # no session folder either


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"step_s": math.nan}, "simulation step"),
        ({"step_s": 0.0}, "simulation step"),
        ({"step_s": math.inf}, "simulation step"),
        ({"drop_prob": math.nan}, "packet loss"),
        ({"drop_prob": 1.0}, "packet loss"),
        ({"drop_prob": -0.5}, "packet loss"),
    ],
)
def test_record_simulated_refuses_a_step_or_loss_before_recording(tmp_path, kw, message):
    cat = Catalog.open(tmp_path / "catalog.sqlite")
    p = cat.add_patient("P-1")
    with pytest.raises(ValueError, match=message):
        record_simulated(cat, tmp_path, p.id, 3.0, settings=SMALL, **kw)
    assert cat.list_sessions() == []


def test_session_seconds():
    from core.config import MAX_SESSION_S, MIN_SESSION_S, session_seconds

    assert session_seconds(MIN_SESSION_S) == 1.0 and session_seconds(MAX_SESSION_S) == 86400.0
    for bad in (math.nan, math.inf, 1e308, 0, -1, 0.999, 86400.5, None, "x"):
        with pytest.raises(ValueError, match="A session lasts from 1 s to 86400 s"):
            session_seconds(bad)  # type: ignore[arg-type]
