"""The model card: what paper 000 did and what TheraScope does, deviations listed (``MODEL_CARD.md``)."""

from __future__ import annotations

from pathlib import Path

#: the model card shipped beside the model code
MODEL_CARD = Path(__file__).with_name("MODEL_CARD.md")


def model_card() -> str:
    """The model card's text (Markdown), as ``therascope train --describe`` prints it."""
    return MODEL_CARD.read_text(encoding="utf-8")
