"""Settings lists the model families with their model cards (issue 17, item 4)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.gui.model_cards import ModelCardsDialog
from app.gui.settings_dialog import SettingsDialog


def test_settings_lists_every_family_with_its_model_card(win, qtbot) -> None:  # type: ignore[no-untyped-def]
    dlg = SettingsDialog(win.settings, win.data_root, parent=win)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.mouseClick(dlg.families_btn, Qt.MouseButton.LeftButton)
    cards = dlg.model_cards
    assert isinstance(cards, ModelCardsDialog) and cards.isVisible()
    names = [
        cards.families.item(i).data(Qt.ItemDataRole.UserRole) for i in range(cards.families.count())
    ]
    assert names == ["bmmn", "deepvanet", "transformer", "avigas"]
    assert "BMMN-BAE-2" in cards.card.toPlainText()
    for row, word in ((1, "DeepVANet"), (2, "Transformer"), (3, "AViGaS")):
        rect = cards.families.visualItemRect(cards.families.item(row))
        qtbot.mouseClick(cards.families.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert cards.families.currentRow() == row
        assert word in cards.card.toPlainText()
    qtbot.mouseClick(cards.close_btn, Qt.MouseButton.LeftButton)
    assert not cards.isVisible()
    dlg.reject()
