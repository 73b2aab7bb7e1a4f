"""Settings → Model families…: the four model families TheraScope can train and analyse with,
each with its paper, its inputs and its model card (what the paper did, what TheraScope does)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QListWidget,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)


class ModelCardsDialog(QDialog):
    """A list of the model families and the chosen family's model card.

    Attributes
    ----------
    families (QListWidget; one row per family, the family's name as its data), card
    (QTextBrowser: the card as Markdown), close_btn
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        from core.models.families import FAMILIES, family

        super().__init__(parent)
        self.setWindowTitle("Model families")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.families = QListWidget()
        self._cards: list[str] = []
        for name in FAMILIES:
            fam = family(name)
            self.families.addItem(f"{fam.title}\npaper {fam.paper}")
            item = self.families.item(self.families.count() - 1)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self._cards.append(fam.card())
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(False)
        self.families.currentRowChanged.connect(self._show)
        split = QSplitter()
        split.addWidget(self.families)
        split.addWidget(self.card)
        split.setStretchFactor(1, 3)
        self.families.setWordWrap(True)
        self.families.setSpacing(4)
        split.setSizes([330, 650])
        self.close_btn = QPushButton("Close")
        self.close_btn.clicked.connect(self.accept)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.close_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(split, 1)
        lay.addLayout(row)
        self.resize(980, 640)
        self.families.setCurrentRow(0)

    def _show(self, row: int) -> None:
        if 0 <= row < len(self._cards):
            self.card.setMarkdown(self._cards[row])
