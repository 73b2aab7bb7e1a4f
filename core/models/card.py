"""The model card: what paper 000 did and what TheraScope does, deviations listed (``MODEL_CARD.md``)."""

from __future__ import annotations

from core.resources import package_path

#: the model card shipped beside the model code
MODEL_CARD = package_path("core.models", "MODEL_CARD.md")


def model_card() -> str:
    """The model card's text (Markdown), as ``therascope train --describe`` prints it."""
    return MODEL_CARD.read_text(encoding="utf-8")
