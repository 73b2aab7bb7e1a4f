"""Everything the review screen shows about one session, headless: ``therascope show``.

:func:`session_overview` gathers the figures through the report's own path
(:func:`core.report.session.report_data_for`: the same physiology, data quality and review the
PDF prints) into one JSON-ready dict, strict (NaN and infinity become ``None``);
:func:`overview_lines` writes it as text (session times as m:ss, dates in local time, quadrants
in the words the review screen uses).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.circumplex import NEUTRAL, QUADRANTS, describe_shift, quadrant_label
from core.catalog import Catalog
from core.clinical import INSTRUMENTS, PHASES, RESPONSES, SessionMeasures, session_measures
from core.config import Settings
from core.faces.track import detector_note
from core.physiology.summary import METRICS, PhysiologySummary, describe_change
from core.quality.text import VERDICT_WORDS
from core.report.data import NOT_ANALYSED, NOT_MEASURED, ReportData, format_value
from core.report.model_outputs import outputs_lines
from core.report.session import report_data_for
from core.timefmt import format_clock

__all__ = [
    "NOT_ANALYSED_TEXT",
    "measures_dict",
    "measures_lines",
    "overview_lines",
    "physiology_dict",
    "quadrant_words",
    "session_overview",
    "strict_json",
]

#: the text version's line for a session without an analysis
NOT_ANALYSED_TEXT = "not analysed"


def strict_json(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python numbers and lists, and every NaN or
    infinity as ``None``, so that ``json.dumps(..., allow_nan=False)`` accepts it.

    Parameters
    ----------
    value : any — dicts (keys made strings), lists, tuples, numbers, strings, None

    Returns
    -------
    any — the same structure, JSON-ready
    """
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [strict_json(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def quadrant_words(q: int) -> str:
    """A quadrant as the review screen names it: ``"Q2 stressed/anxious"``, ``"near neutral"``,
    ``"not estimated"``."""
    q = int(q)
    return f"Q{q} {QUADRANTS[q][1]}" if q in QUADRANTS else quadrant_label(q)


def _utc_text(iso: str | None) -> str:
    """A stored time in UTC to the minute: ``"2026-12-05 12:42 UTC"``; ``"–"`` when unknown."""
    if not iso:
        return "–"
    try:
        t = dt.datetime.fromisoformat(iso.strip())
    except ValueError:
        return iso
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return f"{t.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"


def physiology_dict(summary: PhysiologySummary) -> dict[str, Any]:
    """The pre/post physiology as figures: per window its bounds, heart rate, RMSSD, EDA level,
    SCR rate, what was used (beats, SCRs, seconds of ECG and EDA) and why a value is missing.

    Returns
    -------
    dict — ``windows`` (``[pre, post]``), ``change`` (post − pre at display precision),
    ``from_markers``, ``note`` (how the windows were chosen), ``sentence`` (the report's plain
    words)
    """
    windows = []
    for w, m in zip(summary.windows, summary.metrics, strict=True):
        windows.append(
            {
                **asdict(w),
                **asdict(m),
                "length_s": w.length_s,
                "seconds_analysed": m.seconds_analysed,
            }
        )
    return {
        "windows": windows,
        "change": dict(summary.change),
        "from_markers": summary.from_markers,
        "note": summary.windows[0].note,
        "sentence": describe_change(summary),
    }


def _analysis_dict(data: ReportData) -> dict[str, Any] | None:
    a = data.analysis
    if a is None:
        return None
    info = a.info
    counts: dict[str, Any] = dict(info.get("counts") or {})
    analysed = int(counts.get("frames_analysed", len(a.t_s)))
    estimated = int(counts.get("estimated", int(np.sum(np.isfinite(a.valence)))))
    ck = dict(info.get("checkpoint") or {})
    windows = []
    for s in (a.circumplex.pre, a.circumplex.post):
        d = s.to_dict()
        d["quadrant_words"] = quadrant_words(s.quadrant)
        d["quadrant_label"] = quadrant_label(s.quadrant)
        d["coverage"] = s.coverage
        windows.append(d)
    return {
        "frames": {
            "stored": counts.get("frames_stored"),
            "analysed": analysed,
            "with_face": analysed - int(counts.get("without_face", 0)),
            "estimated": estimated,
            "without_face": counts.get("without_face"),
            "bio_incomplete": counts.get("bio_incomplete"),
            "unreadable": counts.get("unreadable"),
        },
        "checkpoint": {
            "label": ck.get("label"),
            "sha256": ck.get("sha256"),
            "demo": bool(ck.get("demo", a.demo_model)),
            "file": ck.get("file"),
            "variant": ck.get("variant"),
            "backbone": ck.get("backbone"),
            "modalities": ck.get("modalities"),
        },
        # the face stage: detector and tracker settings (absent from older analyses)
        "detector": info.get("face_detector"),
        "detector_note": detector_note(dict(info)),
        "device": info.get("device"),
        "precision": info.get("precision"),
        "inputs": info.get("inputs"),
        "frames_per_s": info.get("frames_per_s"),
        "created_at": info.get("created_at"),
        "demo_model": a.demo_model,
        "windows": windows,
        # liking and the seven emotions; None and a reason for those the model did not learn
        "outputs": a.model_outputs.to_dict() if a.model_outputs is not None else None,
        "note": a.circumplex.note,
        "sentence": describe_shift(a.circumplex),
    }


def measures_dict(m: SessionMeasures) -> dict[str, Any]:
    """A session's questionnaires item by item and its SUDS ratings, JSON-ready.

    Returns
    -------
    dict — ``questionnaires``: ``{phase: {instrument: {...}}}`` for what was entered (phases
    ``pre``/``post``, instruments ``gad7``/``phq9``), each with ``name``, ``source``
    (``items`` | ``incomplete`` | ``total only``), ``items`` (every item: number, label, score
    or None when not answered, the answer in words; empty for a total entered alone),
    ``answered``, ``n_items``, ``total`` (None while incomplete), ``max_total``, ``band``,
    ``flagged`` and ``flag`` (the flagged item's warning, e.g. PHQ-9 item 9 above 0, else None);
    ``flagged``: the warnings of every flagged result; ``suds``: ``t_s``, ``time`` (m:ss) and
    ``rating`` (0–100) in time order
    """
    questionnaires: dict[str, dict[str, Any]] = {}
    for phase in PHASES:
        by: dict[str, Any] = {}
        for key, r in m.questionnaires.get(phase, {}).items():
            inst = INSTRUMENTS[key]
            items = []
            if r.source != "total only" or r.items_pending:  # items being entered: shown
                for i, label in enumerate(inst.items, start=1):
                    v = r.answers.get(i)
                    items.append(
                        {
                            "item": i,
                            "label": label,
                            "score": v,
                            "answer": None if v is None else RESPONSES[v],
                            "flagged_item": inst.flagged_item == i,
                        }
                    )
            by[key] = {
                "name": inst.name,
                "source": r.source,
                "items": items,
                "answered": len(r.answers),
                "n_items": inst.n_items,
                "total": r.total,
                "max_total": inst.max_total,
                "band": r.band,
                "flagged": r.flagged,
                "flag": inst.flag_text if r.flagged else None,
            }
        if by:
            questionnaires[phase] = by
    return {
        "questionnaires": questionnaires,
        "flagged": [
            {
                "phase": r.phase,
                "instrument": r.instrument,
                "warning": INSTRUMENTS[r.instrument].flag_text,
            }
            for r in m.flagged
        ],
        "suds": [{"t_s": r.t_s, "time": format_clock(r.t_s), "rating": r.rating} for r in m.suds],
    }


def session_overview(
    catalog: Catalog, data_root: Path, session_id: int, settings: Settings | None = None
) -> dict[str, Any]:
    """Everything the review screen shows about one session, as strict JSON-ready figures.

    Parameters
    ----------
    catalog : Catalog
    data_root : Path — the data folder
    session_id : int
    settings : Settings, optional — phase minutes and the near-neutral radius (default: saved)

    Returns
    -------
    dict — ``session`` (uid, patient code, start in local time and UTC, duration, status,
    simulated, devices, consent, notes), ``quality`` (verdict, reasons, the report's figures and
    :func:`core.quality.session.quality_summary`), ``physiology`` (:func:`physiology_dict`),
    ``analysed`` and ``analysis`` (None when not analysed: counts, checkpoint and detector
    identity, device, per-window valence/arousal means, SDs and quadrant shares), ``markers``,
    ``self_reports``, ``measures`` (GAD-7/PHQ-9 item by item and SUDS: :func:`measures_dict`);
    no NaN anywhere (``None``)

    Raises
    ------
    KeyError — no such session
    ValueError — the session is still recording, or its stored analysis cannot be read
    """
    settings = settings or Settings.load()
    rec = catalog.get_session(session_id)
    if rec is None:
        raise KeyError(f"No session with id {session_id}")
    data = report_data_for(catalog, data_root, session_id, settings=settings)
    q = data.quality
    summary: dict[str, Any] = dict(q.get("summary") or {})
    analysis = _analysis_dict(data)
    out = {
        "session": {
            "uid": rec.uid,
            "patient_code": data.patient_code,
            "started_at_local": data.started_at,
            "started_at_utc": _utc_text(rec.started_at),
            "started_at": rec.started_at,
            "ended_at": rec.ended_at,
            "duration_s": data.duration_s,
            "duration": format_clock(data.duration_s),
            "status": rec.status,
            "simulated": rec.simulated,
            "devices": data.devices,
            "consent_at_local": data.consent_at,
            "consent_note": data.consent_note,
            "notes": data.notes,
        },
        "quality": {
            "verdict": summary.get("verdict"),
            "verdict_words": VERDICT_WORDS.get(summary.get("verdict"), "Not recorded"),
            "reasons": list(summary.get("reasons") or []),
            "streams": q.get("streams", []),
            "frames_stored": q.get("frames_stored"),
            "frames_dropped": q.get("frames_dropped"),
            "gaps": q.get("gaps", 0),
            "summary": summary,
        },
        "physiology": physiology_dict(data.physiology),
        "analysed": analysis is not None,
        "analysis": analysis,
        "markers": [
            {"t_s": t, "time": format_clock(t), "kind": kind, "label": label}
            for t, kind, label in data.markers
        ],
        "self_reports": data.self_reports,
        "measures": measures_dict(session_measures(catalog, session_id)),
    }
    return dict(strict_json(out))


# --- the text version ----------------------------------------------------------------------


def _num(value: Any, decimals: int, signed: bool = False) -> str:
    return format_value(None if value is None else float(value), decimals, signed)


def _mean_sd(mean: Any, sd: Any) -> str:
    if mean is None:
        return "not estimated"
    return f"{mean:+.2f}" + ("" if sd is None else f" ± {sd:.2f}")


def _shares(w: dict[str, Any]) -> str:
    if not w.get("n_estimated"):
        return "–"
    parts = sorted(((v, int(k)) for k, v in w["shares"].items() if v), reverse=True)
    return ", ".join(
        f"{'near neutral' if q == NEUTRAL else quadrant_words(q)} {v:.0%}" for v, q in parts
    )


def _table(rows: list[list[str]]) -> list[str]:
    """Rows of cells as aligned text lines (two spaces between columns, indented by two)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def _physiology_lines(p: dict[str, Any]) -> list[str]:
    pre, post = p["windows"]
    rows = [
        [
            "",
            *(
                f"{w['label'].capitalize()} ({format_clock(w['start_s'])}–"
                f"{format_clock(w['end_s'])})"
                for w in (pre, post)
            ),
            "Change",
        ]
    ]
    for m in METRICS:
        rows.append(
            [
                f"{m.label} ({m.unit})",
                *(_num(w[m.key], m.decimals) for w in (pre, post)),
                _num(p["change"].get(m.key), m.decimals, signed=True),
            ]
        )
    rows.append(["Beats found", *(str(w["n_beats"]) for w in (pre, post)), ""])
    rows.append(["SCRs counted", *(str(w["n_scr"]) for w in (pre, post)), ""])
    rows.append(
        [
            "Usable signal, ECG / EDA (m:ss)",
            *(
                f"{format_clock(w['ecg_seconds_analysed'])} / "
                f"{format_clock(w['eda_seconds_analysed'])}"
                for w in (pre, post)
            ),
            "",
        ]
    )
    out = _table(rows)
    out.append(f"  {p['note']} Change = after minus before; {NOT_MEASURED} = not measured.")
    out += [
        f"  {NOT_MEASURED} {m.label}, {w['label']}: {w['reasons'][m.key]}"
        for w in (pre, post)
        for m in METRICS
        if w[m.key] is None and m.key in w["reasons"]
    ]
    return out


def _analysis_lines(a: dict[str, Any] | None) -> list[str]:
    if a is None:
        return [f"Analysis: {NOT_ANALYSED_TEXT} ({NOT_ANALYSED.split(': ', 1)[-1]})"]
    ck, f = a["checkpoint"], a["frames"]
    demo = " — DEMO MODEL, not clinically valid" if a["demo_model"] else ""
    sha = str(ck.get("sha256") or "")
    out = [
        "Analysis",
        f"  Model      {ck.get('label') or '?'}{demo}",
        f"             {ck.get('variant') or ''} · inputs {a.get('inputs') or ''} · "
        f"SHA-256 {sha[:12]}{'…' if len(sha) > 12 else ''}",
        f"  Ran on     {a.get('device') or '?'}"
        + (f" ({a['precision']})" if a.get("precision") else ""),
    ]
    if a.get("detector_note"):
        out.append(f"  Detector   {a['detector_note']}")
    rate = a.get("frames_per_s")
    how = "every stored frame" if rate is None else f"{rate:g} frames per second"
    out.append(
        f"  Frames     {f['stored'] if f['stored'] is not None else '–'} stored, "
        f"{f['analysed']} analysed ({how}), {f['with_face']} with a face, "
        f"{f['estimated']} estimated"
    )
    for w in a["windows"]:
        out += [
            f"  {w['label'].capitalize()} ({format_clock(w['start_s'])}–"
            f"{format_clock(w['end_s'])})",
            f"    valence {_mean_sd(w['mean_valence'], w['sd_valence'])}, "
            f"arousal {_mean_sd(w['mean_arousal'], w['sd_arousal'])}",
            f"    quadrant of the mean: {quadrant_label(w['quadrant'])}",
            f"    time per quadrant: {_shares(w)}",
            f"    frames estimated: {w['n_estimated']} of {w['n_frames']}",
        ]
    out.append(f"  {a['sentence']}")
    out += outputs_lines(a.get("outputs"))
    return out


_PHASE_WORDS = {"pre": "before (pre)", "post": "after (post)"}


def measures_lines(m: dict[str, Any]) -> list[str]:
    """:func:`measures_dict` as text: each questionnaire's items, total and band (``total
    only`` or ``incomplete`` said as such), the flagged item's warning, the SUDS ratings with
    their session times."""
    out = ["Questionnaires" + ("" if m["questionnaires"] else ": none entered")]
    for phase, by in m["questionnaires"].items():
        for q in by.values():
            head = f"  {q['name']} {_PHASE_WORDS.get(phase, phase)}: "
            if q["total"] is None:
                head += f"incomplete, {q['answered']} of {q['n_items']} items answered, no total"
            else:
                head += f"total {q['total']} of {q['max_total']}"
                head += f" ({q['band']})" if q["band"] else ""
                if q["source"] == "total only":
                    head += (
                        f" — total only, items being entered ({q['answered']} of {q['n_items']})"
                        if q["items"]
                        else " — total only, no items entered"
                    )
            out.append(head)
            for it in q["items"]:
                score = "not answered" if it["score"] is None else f"{it['score']} ({it['answer']})"
                mark = "  !!" if it["flagged_item"] and (it["score"] or 0) > 0 else ""
                out.append(f"    {it['item']:>2}. {it['label']:<52} {score}{mark}")
            if q["flag"]:
                out.append(f"    !! {q['flag']}")
    out.append("SUDS ratings (0–100)" + ("" if m["suds"] else ": none"))
    out += [f"  {r['time']:>7}  {r['rating']}" for r in m["suds"]]
    return out


def overview_lines(ov: dict[str, Any]) -> list[str]:
    """:func:`session_overview` as readable text, one line each (no trailing newlines)."""
    s, q = ov["session"], ov["quality"]
    devices = ", ".join(
        d.get("name", "?") + (" (simulated)" if d.get("simulated") else "") for d in s["devices"]
    )
    out = [
        f"Session {s['uid']}"
        + ("  SIMULATED DATA — not a real recording" if s["simulated"] else ""),
        f"  Patient    {s['patient_code']}",
        f"  Started    {s['started_at_local']} ({s['started_at_utc']})",
        f"  Duration   {s['duration']}",
        f"  Status     {s['status']}",
        f"  Simulated  {'yes' if s['simulated'] else 'no'}",
        f"  Devices    {devices or '–'}",
        f"Data quality: {q['verdict_words']}",
    ]
    out += [f"  - {r}" for r in q["reasons"]]
    for st in q["streams"]:
        out.append(
            f"  {st.get('name', '?')}: {st.get('lost', '–')} of {st.get('expected', '–')} "
            "samples lost"
        )
    if q.get("frames_stored") is not None:
        out.append(f"  video: {q['frames_stored']} frames stored, {q['frames_dropped']} dropped")
    out.append("Physiology before and after")
    out += _physiology_lines(ov["physiology"])
    out += _analysis_lines(ov["analysis"])
    out.append("Markers" + ("" if ov["markers"] else ": none"))
    for m in ov["markers"]:
        out.append(f"  {m['time']:>7}  {m['kind'].replace('_', ' ')}  {m['label'] or ''}".rstrip())
    out.append("Patient's ratings" + ("" if ov["self_reports"] else ": none"))
    for phase, r in ov["self_reports"].items():
        sam = [("–" if r.get(k) is None else str(r[k])) for k in ("sam_valence", "sam_arousal")]
        gad = "–" if r.get("gad7") is None else str(r["gad7"])
        out.append(f"  {phase:<5} SAM valence {sam[0]}, arousal {sam[1]} (1–9); GAD-7 {gad}")
    if "measures" in ov:
        out += measures_lines(ov["measures"])
    return out
