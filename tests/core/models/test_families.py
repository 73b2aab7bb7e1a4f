"""DeepVANet, the MVP Transformer and AViGaS: sizes against their papers, passes, pre-training."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from core.models.avigas import CURRICULUM, AViGaSConfig, GatedMultimodalUnit, build_avigas  # noqa: E402
from core.models.bmmn import BMMNConfig  # noqa: E402
from core.models.deepvanet import (  # noqa: E402
    DeepVANetConfig,
    adaboost_weights,
    bio_conv_length,
    build_deepvanet,
    face_map_size,
)
from core.models.families import FAMILIES, build, family, family_of, inputs_of  # noqa: E402
from core.models.mvp_transformer import (  # noqa: E402
    MVPTransformerConfig,
    build_transformer,
    filter_segment,
    mvp_loss,
    mvp_mask,
)

TINY_DVN = DeepVANetConfig(
    face_size=32, frames=3, bio_samples=32, face_channels=(4, 8, 8), convlstm_hidden=8
)
TINY_TF = MVPTransformerConfig(
    segment_s=1.0, frames=2, face_size=32, cnn_kernels=(9, 5, 3), cnn_channels=(8, 8, 16),
    token_pool=4, heads=2, feedforward=32, mvp_hidden=16, head_hidden=8, fusion_hidden=(8, 4),
    face_backbone="small", face_weights="none",
)  # fmt: skip
TINY_AV = AViGaSConfig(
    steps=4, step_s=0.25, face_size=32, latent=8, bio_channels=(4, 8), gmu=8, lstm_hidden=8
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _batch(cfg: object, n: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    inp = inputs_of(cfg)
    face = torch.randn(n, inp.frames, 3, inp.face_size, inp.face_size)
    return face, torch.randn(n, len(inp.signals), inp.bio_samples)


# --- DeepVANet (paper 001) -------------------------------------------------------------------


def test_deepvanet_sizes_are_the_papers() -> None:
    cfg = DeepVANetConfig()
    m = build_deepvanet(cfg)
    assert m.face is not None and m.bio is not None
    convs = [layer for layer in m.face.cnn if isinstance(layer, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128]
    assert all(c.kernel_size == (3, 3) for c in convs)
    pools = [layer for layer in m.face.cnn if isinstance(layer, nn.MaxPool2d)]
    assert len(pools) == 3 and all(p.kernel_size == 3 for p in pools)
    # "the CNN layers output the feature maps F' with the shape of n x 128 x 6 x 6"
    assert face_map_size(64) == 6
    assert m.face.cnn(torch.zeros(2, 3, 64, 64)).shape == (2, 128, 6, 6)
    assert m.face.fc.out_features == 16  # lambda_1, the grid search's result
    bio_convs = [layer for layer in m.bio.cnn if isinstance(layer, nn.Conv1d)]
    assert [c.kernel_size[0] for c in bio_convs] == [5, 3, 3]
    assert [c.out_channels for c in bio_convs] == [24, 16, 8]
    assert sum(isinstance(layer, nn.BatchNorm1d) for layer in m.bio.cnn) == 3
    # "the output of convolutional layers is in the shape of 8 x (m - 8)"
    assert bio_conv_length(128) == 120 and m.bio.fc.in_features == 8 * 120
    assert m.bio.fc.out_features == 64  # lambda_2
    assert m.classifier is not None and m.classifier.trunk[0].in_features == 16 + 64
    # two-layer FC classifier: hidden layer, then the output layers
    assert sum(isinstance(layer, nn.Linear) for layer in m.classifier.trunk) == 1
    assert cfg.inputs.frames == 5 and cfg.inputs.frame_rate_hz == 5.0  # 1-s segments at 5 Hz
    assert cfg.inputs.bio_samples == 128 and cfg.inputs.span_s == 1.0


@pytest.mark.parametrize("fusion", ["feature", "decision"])
def test_deepvanet_forward_backward(fusion: str) -> None:
    from dataclasses import replace

    cfg = replace(TINY_DVN, fusion=fusion)
    m = build_deepvanet(cfg)
    face, bio = _batch(cfg)
    out = m(face, bio)
    assert out["out"].shape == (3, 10) and out["logits"].shape == (3, 3)
    (out["out"].sum() + out["logits"].sum()).backward()
    grads = [p.grad for p in m.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    if fusion == "decision":
        assert set(out["parts"]) == {"face", "bio"}


def test_deepvanet_face_and_bio_only() -> None:
    from dataclasses import replace

    face, bio = _batch(TINY_DVN)
    assert build_deepvanet(replace(TINY_DVN, modalities="face"))(face, None)["out"].shape == (3, 10)
    assert build_deepvanet(replace(TINY_DVN, modalities="bio"))(None, bio)["out"].shape == (3, 10)
    with pytest.raises(ValueError, match="shape"):
        build_deepvanet(TINY_DVN)(face[:, :2], bio)


def test_adaboost_trusts_the_better_sub_classifier() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random((200, 3)) > 0.5
    good = np.where(truth, 0.9, 0.1)
    good[:20] = 1 - good[:20]  # 10 % wrong
    coin = rng.random((200, 3))
    alpha = adaboost_weights(np.stack([coin, good]), truth)
    assert alpha.shape == (2, 3) and np.all(alpha[1] > alpha[0])
    # a sub-classifier with the fitted weights moves the fused score towards the good one
    m = build_deepvanet(DeepVANetConfig(**{**TINY_DVN.to_dict(), "fusion": "decision"}))
    m.boost_alpha.copy_(torch.tensor([[0.0] * 3, [1.0] * 3]))
    m.eval()
    face, bio = _batch(m.config)
    out = m(face, bio)
    assert torch.allclose(out["logits"], out["parts"]["bio"]["logits"], atol=1e-4)


# --- the MVP Transformer (paper 003) -----------------------------------------------------------


def test_transformer_sizes_are_the_papers() -> None:
    cfg = MVPTransformerConfig(face_backbone="small", face_weights="none")
    assert cfg.bio_samples == 1280  # 10-s segments at 128 Hz
    assert cfg.receptive_field == 113  # "the size of the receptive field is 113 input points"
    m = build_transformer(cfg)
    enc = m.signal_encoders()["ECG"]
    convs = [layer for layer in enc.cnn if isinstance(layer, nn.Conv1d)]
    assert [c.kernel_size[0] for c in convs] == [65, 33, 17]
    assert [c.out_channels for c in convs] == [64, 128, 256]
    assert all(c.stride == (1,) for c in convs)
    layers = enc.context.transformer.layers
    assert len(layers) == 2 and layers[0].self_attn.num_heads == 2
    assert layers[0].self_attn.embed_dim == 256 and layers[0].dropout.p == 0.1
    assert enc.mvp[0].out_features == 128 and isinstance(enc.mvp[1], nn.ReLU)
    head = m.heads["ECG"]
    assert head.trunk[0].out_features == 64 and head.trunk[2].p == 0.6
    fusion = [layer for layer in m.fusion.trunk if isinstance(layer, nn.Linear)]
    assert [f.out_features for f in fusion] == [64, 32] and m.fusion.trunk[2].p == 0.1
    assert fusion[0].in_features == 64 * 3  # face, ECG, EDA heads' last hidden layers
    assert set(m.encoders) == {"face", "ECG", "EDA"}


def test_transformer_forward_backward_and_frozen_face() -> None:
    m = build_transformer(TINY_TF)
    face, bio = _batch(TINY_TF)
    out = m(face, bio)
    assert out["out"].shape == (3, 10) and out["logits"].shape == (3, 3)
    assert set(out["parts"]) == {"face", "ECG", "EDA"}
    out["out"].sum().backward()
    face_enc = m.encoders["face"]
    assert all(p.grad is None for p in face_enc.spatial.parameters())  # frozen
    assert m.encoders["ECG"].cnn[0].weight.grad is not None


def test_mvp_masks_spans_in_all_channels() -> None:
    g = torch.Generator().manual_seed(1)
    mask = mvp_mask(4, 1280, ratio=0.15, span=16, generator=g)
    assert mask.shape == (4, 1280)
    frac = mask.float().mean().item()
    assert 0.08 < frac <= 0.16


def test_mvp_pretraining_loss_falls_on_synthetic_signals() -> None:
    from dataclasses import replace

    cfg = replace(TINY_TF, segment_s=2.0, modalities="bio", dropout=0.0)
    enc = build_transformer(cfg).signal_encoders()["ECG"]
    t = torch.arange(cfg.bio_samples) / cfg.bio_rate_hz
    g = torch.Generator().manual_seed(0)
    freq = 1.0 + torch.rand(64, 1, generator=g)
    phase = 6.28 * torch.rand(64, 1, generator=g)
    x = torch.sin(6.28 * freq * t + phase)[:, None, :]
    opt = torch.optim.Adam(enc.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        mask = mvp_mask(len(x), cfg.bio_samples, generator=g)
        loss = mvp_loss(enc, x, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses


def test_filtering_follows_the_paper() -> None:
    t = np.arange(1280) / 128.0
    slow, fast = np.sin(2 * np.pi * 0.2 * t), np.sin(2 * np.pi * 10 * t)
    eda = filter_segment(slow + fast, "EDA", 128.0)
    assert np.std(eda - slow) < 0.1  # 10 Hz gone from EDA
    ecg = filter_segment(fast, "ECG", 128.0)
    assert np.allclose(ecg, fast, atol=0.05)  # 60 Hz low-pass keeps ECG's band


# --- AViGaS (paper 004) ------------------------------------------------------------------------


def test_gmu_is_the_papers_gate() -> None:
    gmu = GatedMultimodalUnit(3, 3, 2)
    a, b = torch.randn(5, 3), torch.randn(5, 3)
    fused, z = gmu(a, b)
    z_ref = torch.sigmoid(gmu.w_z(torch.cat([a, b], -1)))
    ref = z_ref * torch.tanh(gmu.w_v(a)) + (1 - z_ref) * torch.tanh(gmu.w_s(b))
    assert torch.allclose(fused, ref) and torch.allclose(z, z_ref)


def test_avigas_sizes_curriculum_and_passes() -> None:
    assert CURRICULUM == (2, 4, 8) and AViGaSConfig().steps == 8
    m = build_avigas(TINY_AV)
    face, bio = _batch(TINY_AV)
    for steps in (2, 4):
        out = m(face, bio, steps=steps)
        assert out["out"].shape == (3, 10) and out["quadrant"].shape == (3, 4)
        assert out["gate"].shape == (3, steps, 8)
    out = m(face, bio)
    (out["out"].sum() + out["quadrant"].sum() + out["parts"]["bio"]["quadrant"].sum()).backward()
    assert m.gmu is not None and m.gmu.w_z.weight.grad is not None
    assert m.lstm.weight_hh.shape == (4 * 8, 8)
    # the attention sees the combined states S = [h; c]
    assert m.attention.in_features == 2 * 8
    # the quadrant conditions the fused latents: ZQ = [Z; Q]
    assert m.gmu.w_v.in_features == 8 + 4


# --- the registry ------------------------------------------------------------------------------


def test_every_family_builds_and_has_a_card() -> None:
    configs = [
        BMMNConfig(backbone="small", backbone_weights="none", face_size=32),
        TINY_DVN,
        TINY_TF,
        TINY_AV,
    ]
    for name, cfg in zip(FAMILIES, configs, strict=True):
        assert family_of(cfg).name == name
        assert isinstance(build(cfg), nn.Module)
        card = family(name).card()
        assert "paper" in card.lower()
    assert inputs_of(configs[0]).kind == "frame" and inputs_of(configs[0]).bio_samples == 1000
    assert inputs_of(TINY_TF).kind == "sequence"
    for name in FAMILIES[1:]:
        assert "leaves open" in family(name).card()
    with pytest.raises(ValueError, match="unknown model family"):
        family("resnet")
