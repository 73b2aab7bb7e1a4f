"""GAD-7 and PHQ-9 item by item, before and after the session (issue 19, item 4).

One tab per questionnaire: its items in rows, a field per phase (before / after) taking 0–3, the
total and its severity band under each column, updated as the therapist types. A score is saved
when its field is left; a value that is not 0–3 is refused — the field turns red, a message names
the item, and what is stored stays as it was (never changed to fit). PHQ-9 item 9 above 0 is
highlighted: its row and a warning line in red.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.catalog import Catalog
from core.clinical import (
    INSTRUMENTS,
    ITEM_MAX,
    ITEM_MIN,
    PHASES,
    RESPONSES,
    Instrument,
    QuestionnaireResult,
    score,
    session_questionnaires,
    total_only,
)

PHASE_NAMES = {"pre": "Before (pre)", "post": "After (post)"}
INVALID_STYLE = "border:1px solid #c0392b; background:#fdecea;"
FLAG_STYLE = "color:#b00; font-weight:600;"
FLAG_ROW_STYLE = "background:#fdecea; color:#b00; font-weight:600;"
_SCALE = " · ".join(f"{i} {r.lower()}" for i, r in enumerate(RESPONSES))


def parse_item(text: str, what: str) -> int | None:
    """The score typed for one item: 0–3, or None for an empty field ("not answered").

    Raises ValueError with a message for the therapist for anything else (never changed to fit).
    """
    t = text.strip()
    if not t:
        return None
    if not t.isdigit() or not t.isascii():
        raise ValueError(
            f'{what} must be a whole number from {ITEM_MIN} to {ITEM_MAX}; "{t}" is not one'
        )
    n = int(t)
    if not ITEM_MIN <= n <= ITEM_MAX:
        raise ValueError(f"{what} must be from {ITEM_MIN} to {ITEM_MAX}; {n} is outside that range")
    return n


def result_text(r: QuestionnaireResult | None, n_items: int) -> str:
    """Under a column: ``"Total 12 — moderate"``, ``"5 of 7 answered"``, ``"Total 14 — moderate
    (total only)"`` or ``"–"``."""
    if r is None:
        return "–"
    if r.total is None:
        return f"{r.n_answered} of {n_items} answered"
    only = " (total only)" if r.source == "total only" else ""
    return f"Total {r.total} — {r.band}{only}"


class InstrumentForm(QWidget):
    """One questionnaire: items × phases of fields, totals and bands, the flagged item."""

    changed = Signal()  # an item was stored
    refreshed = Signal()  # the totals, bands and highlight were redrawn (also while typing)

    def __init__(self, catalog: Catalog, inst: Instrument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.inst = inst
        self.session_id: int | None = None
        self._loading = False
        self._problems: dict[tuple[str, int], str] = {}
        self.fields: dict[str, dict[int, QLineEdit]] = {p: {} for p in PHASES}
        self.item_labels: dict[int, QLabel] = {}
        self.totals: dict[str, QLabel] = {}
        self.stored: dict[str, QuestionnaireResult] = {}
        grid = QGridLayout()
        grid.setVerticalSpacing(2)
        head = QLabel(f"<b>{inst.name}</b> — over the last 2 weeks, how often bothered by…")
        grid.addWidget(head, 0, 0, 1, 2)
        for j, phase in enumerate(PHASES):
            grid.addWidget(QLabel(PHASE_NAMES[phase]), 0, 2 + j, Qt.AlignmentFlag.AlignCenter)
        for i, text in enumerate(inst.items, start=1):
            num = QLabel(f"{i}.")
            lab = QLabel(text)
            lab.setWordWrap(True)
            self.item_labels[i] = lab
            grid.addWidget(num, i, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(lab, i, 1)
            for j, phase in enumerate(PHASES):
                f = QLineEdit()
                f.setPlaceholderText("–")
                f.setMaximumWidth(44)
                f.setAlignment(Qt.AlignmentFlag.AlignCenter)
                f.setToolTip(f"{inst.name} item {i}, {PHASE_NAMES[phase].lower()}: {_SCALE}")
                f.textEdited.connect(lambda _t, ph=phase, it=i: self._typed(ph, it))
                f.editingFinished.connect(lambda ph=phase, it=i: self._commit(ph, it))
                grid.addWidget(f, i, 2 + j, Qt.AlignmentFlag.AlignCenter)
                self.fields[phase][i] = f
        row = inst.n_items + 1
        grid.addWidget(QLabel("<b>Score</b>"), row, 1, Qt.AlignmentFlag.AlignRight)
        for j, phase in enumerate(PHASES):
            t = QLabel("–")
            t.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.totals[phase] = t
            grid.addWidget(t, row, 2 + j)
        grid.setColumnStretch(1, 1)
        self.flag = QLabel()
        self.flag.setWordWrap(True)
        self.flag.setStyleSheet(FLAG_STYLE)
        self.flag.setVisible(False)
        #: a total entered alone that stays while its items are being entered (a note per phase)
        self.pending = QLabel()
        self.pending.setWordWrap(True)
        self.pending.setStyleSheet("color:#555;")
        self.pending.setVisible(False)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color:#c0392b;")
        cuts = ", ".join(f"{lo}+ {name}" for lo, name in inst.bands)
        ref = QLabel(f"Answers {_SCALE}. Bands: {cuts}. {inst.reference}")
        ref.setWordWrap(True)
        ref.setStyleSheet("color:#666; font-size:10px;")
        lay = QVBoxLayout(self)
        lay.addWidget(self.flag)  # above the items: seen without scrolling
        lay.addLayout(grid)
        lay.addWidget(self.pending)
        lay.addWidget(self.error)
        lay.addWidget(ref)
        lay.addStretch(1)

    def load(self, session_id: int, results: dict[str, dict[str, QuestionnaireResult]]) -> None:
        self.session_id = session_id
        self._loading = True
        try:
            for phase in PHASES:
                r = results.get(phase, {}).get(self.inst.key)
                if r is not None:
                    self.stored[phase] = r
                else:
                    self.stored.pop(phase, None)
                for i, f in self.fields[phase].items():
                    v = r.answers.get(i) if r is not None else None
                    f.setText("" if v is None else str(v))
                    f.setStyleSheet("")
        finally:
            self._loading = False
        self._problems.clear()
        self._refresh()

    def _what(self, phase: str, item: int) -> str:
        return f"{self.inst.item_name(item)}, {PHASE_NAMES[phase].lower()}"

    def _typed(self, phase: str, item: int) -> bool:
        """Check the field as it is typed; the totals follow what is typed (when valid)."""
        f = self.fields[phase][item]
        try:
            parse_item(f.text(), self._what(phase, item))
        except ValueError as e:
            stored = self.stored.get(phase)
            old = stored.answers.get(item) if stored is not None else None
            keeps = "nothing is stored" if old is None else f"the stored {old} stays"
            self._problems[(phase, item)] = f"Not saved: {e} ({keeps})."
            f.setStyleSheet(INVALID_STYLE)
            ok = False
        else:
            self._problems.pop((phase, item), None)
            f.setStyleSheet("")
            ok = True
        self._refresh()
        return ok

    def typed_answers(self, phase: str) -> dict[int, int]:
        """The valid scores now in the fields of ``phase`` (refused ones left out)."""
        out: dict[int, int] = {}
        for i, f in self.fields[phase].items():
            try:
                v = parse_item(f.text(), "")
            except ValueError:
                continue
            if v is not None:
                out[i] = v
        return out

    def live_result(self, phase: str) -> QuestionnaireResult | None:
        """What the fields say now (scored as typed), or the stored total-only result (kept
        while the items typed are incomplete)."""
        answers = self.typed_answers(phase)
        stored = self.stored.get(phase)
        old = stored if stored is not None and stored.source == "total only" else None
        if answers:
            typed = score(self.inst, answers, phase)
            if old is None or old.total is None or typed.complete:
                return typed
            return total_only(self.inst, old.total, phase, answers)
        return old

    def _refresh(self) -> None:
        flagged_phases = []
        pending = []
        for phase in PHASES:
            r = self.live_result(phase)
            self.totals[phase].setText(result_text(r, self.inst.n_items))
            if r is not None and r.items_pending:
                pending.append(
                    f"{PHASE_NAMES[phase]}: items being entered ({r.n_answered} of "
                    f"{self.inst.n_items}) — the total {r.total} entered alone stays until all "
                    f"{self.inst.n_items} are answered, then the items' total replaces it."
                )
            if r is not None and r.flagged:
                flagged_phases.append(PHASE_NAMES[phase].lower())
        fi = self.inst.flagged_item
        if fi is not None:
            on = bool(flagged_phases)
            self.item_labels[fi].setStyleSheet(FLAG_ROW_STYLE if on else "")
            self.flag.setText(
                f"⚠ {self.inst.flag_text} ({', '.join(flagged_phases)})." if on else ""
            )
            self.flag.setVisible(on)
        self.pending.setText("<br>".join(pending))
        self.pending.setVisible(bool(pending))
        self.error.setText("<br>".join(self._problems.values()))
        self.refreshed.emit()

    def problems(self) -> list[str]:
        return list(self._problems.values())

    def _commit(self, phase: str, item: int) -> None:
        """Save one item as typed (empty clears it), or leave it refused with its message."""
        if self._loading or self.session_id is None or not self._typed(phase, item):
            return
        value = parse_item(self.fields[phase][item].text(), self._what(phase, item))
        stored = self.stored.get(phase)
        if stored is not None and stored.answers.get(item) == value:
            return
        if stored is None and value is None:
            return
        try:
            self.catalog.set_questionnaire(self.session_id, phase, self.inst.key, {item: value})
        except (ValueError, KeyError) as e:
            self._problems[(phase, item)] = f"Not saved: {e}."
            self.fields[phase][item].setStyleSheet(INVALID_STYLE)
            self._refresh()
            return
        self.stored = {
            p: r
            for p, by in session_questionnaires(self.catalog, self.session_id).items()
            if (r := by.get(self.inst.key)) is not None
        }
        self._refresh()
        self.changed.emit()

    def flush(self) -> None:
        for phase in PHASES:
            for item in self.fields[phase]:
                self._commit(phase, item)


class QuestionnaireBox(QTabWidget):
    """GAD-7 and PHQ-9 item by item, one tab each (saved as each field is left)."""

    changed = Signal()

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.forms: dict[str, InstrumentForm] = {}
        self.pages: dict[str, QScrollArea] = {}  # each form's tab (other tabs may come first)
        for key, inst in INSTRUMENTS.items():
            form = InstrumentForm(catalog, inst)
            form.changed.connect(self._form_changed)
            form.refreshed.connect(self._mark_tabs)
            self.forms[key] = form
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setWidget(form)
            self.pages[key] = scroll
            self.addTab(scroll, f"{inst.name} item by item")

    def load(self, session_id: int) -> None:
        results = session_questionnaires(self.catalog, session_id)
        for form in self.forms.values():
            form.load(session_id, results)
        self._mark_tabs()

    def _form_changed(self) -> None:
        self._mark_tabs()
        self.changed.emit()

    def _mark_tabs(self) -> None:
        """A flagged questionnaire's tab reads "PHQ-9 item by item ⚠" in red."""
        for key, form in self.forms.items():
            i = self.indexOf(self.pages[key])
            on = any((r := form.live_result(p)) is not None and r.flagged for p in PHASES)
            self.setTabText(i, f"{form.inst.name} item by item" + (" ⚠" if on else ""))
            self.tabBar().setTabTextColor(i, Qt.GlobalColor.red if on else Qt.GlobalColor.black)

    def problems(self) -> list[str]:
        return [p for f in self.forms.values() for p in f.problems()]

    def flush(self) -> None:
        for form in self.forms.values():
            form.flush()
