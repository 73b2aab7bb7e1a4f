"""The model families TheraScope offers, by name: their config classes, builders, inputs and cards.

* ``bmmn``: paper 000, BMMN / BMMN-BAE-1 / BMMN-BAE-2; one frame + a 1000-sample window
* ``deepvanet``: paper 001, DeepVANet (CNN + ConvLSTM face, Conv1D bio); 5 frames + a 1-s segment
* ``transformer``: paper 003, pre-trained Transformers with late fusion; 10 frames + a 10-s segment
* ``avigas``: paper 004, AViGaS gated fusion, LSTM with attention; 8 frames + an 8-s segment
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from core.models.avigas import AViGaSConfig, build_avigas
from core.models.bmmn import BMMNConfig, build_model
from core.models.deepvanet import DeepVANetConfig, build_deepvanet
from core.models.heads import ModelInputs
from core.models.mvp_transformer import MVPTransformerConfig, build_transformer
from core.resources import package_path

FAMILIES = ("bmmn", "deepvanet", "transformer", "avigas")

AnyConfig = BMMNConfig | DeepVANetConfig | MVPTransformerConfig | AViGaSConfig

_CARDS = package_path("core.models", "cards")


@dataclass(frozen=True)
class Family:
    """One family: its name, paper, config class, builder and model card."""

    name: str
    title: str
    paper: str
    config_class: Any
    card_path: Path

    def build(self, config: Any) -> nn.Module:
        """A freshly initialised model of this family for ``config``."""
        if not isinstance(config, self.config_class):
            raise TypeError(f"{self.name} needs a {self.config_class.__name__}")
        if isinstance(config, BMMNConfig):
            return build_model(config)
        if isinstance(config, DeepVANetConfig):
            return build_deepvanet(config)
        if isinstance(config, MVPTransformerConfig):
            return build_transformer(config)
        assert isinstance(config, AViGaSConfig)
        return build_avigas(config)

    def card(self) -> str:
        """The family's model card (Markdown)."""
        return self.card_path.read_text(encoding="utf-8")


_REGISTRY = {
    "bmmn": Family(
        "bmmn",
        "BMMN-BAE (BMMN, BAE-1, BAE-2)",
        "000 Comas, Aspandi, Binefa, FG 2020",
        BMMNConfig,
        package_path("core.models", "MODEL_CARD.md"),
    ),
    "deepvanet": Family(
        "deepvanet",
        "DeepVANet",
        "001 Zhang, Hossain, Rahman, INTERACT 2021",
        DeepVANetConfig,
        _CARDS / "deepvanet.md",
    ),
    "transformer": Family(
        "transformer",
        "Pre-trained multimodal Transformer (MVP)",
        "003 Vazquez-Rodriguez et al., ACII 2022",
        MVPTransformerConfig,
        _CARDS / "transformer.md",
    ),
    "avigas": Family(
        "avigas",
        "AViGaS-style gated fusion",
        "004 Aspandi, Sukno, Schuller, Binefa",
        AViGaSConfig,
        _CARDS / "avigas.md",
    ),
}


def family(name: str) -> Family:
    """The family called ``name`` (ValueError naming the valid ones otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; choose one of {FAMILIES}") from None


def family_of(config: Any) -> Family:
    """The family a config belongs to."""
    for fam in _REGISTRY.values():
        if isinstance(config, fam.config_class):
            return fam
    raise TypeError(f"{type(config).__name__} is no model family's config")


def config_from_dict(name: str, d: dict[str, Any]) -> AnyConfig:
    """Rebuild a family's config from its checkpoint dict."""
    cls = family(name).config_class
    config: AnyConfig = cls.from_dict(d)
    return config


def inputs_of(config: Any) -> ModelInputs:
    """What one sample of a model with ``config`` holds."""
    if isinstance(config, BMMNConfig):
        return ModelInputs(
            "frame",
            config.face_size,
            1,
            0.0,
            config.bio_window,
            config.bio_rate_hz,
            config.signals,
        )
    inputs: ModelInputs = config.inputs
    return inputs


def build(config: Any) -> nn.Module:
    """A freshly initialised model for any family's config."""
    return family_of(config).build(config)
