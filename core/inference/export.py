"""A frame model's network as an ONNX graph, and its int8 static quantisation.

The graph takes what the analysis has: face crops as uint8 BGR ``(N, S, S, 3)`` (named
``face``; flipped to RGB and normalised inside the graph exactly as
:func:`core.models.runtime.faces_to_input` does) and scaled bio windows ``(N, n_signals,
window)`` float32 (``bio``), and gives the 10 outputs (``out``, training scale). Only the inputs
the model reads are in the graph. The auto-encoders' decoders, which inference never needs, are
left out, and batch normalisation is folded into the convolutions before export.

Export uses torch's ONNX exporter (``torch.onnx.export(..., dynamo=True)``, torch.export based;
it needs the ``onnx`` and ``onnxscript`` packages) with a dynamic batch dimension.

int8 (:func:`quantize_int8`): static quantisation in the QDQ form (QuantizeLinear /
DequantizeLinear pairs, which OpenVINO runs as int8 convolutions): every convolution's weights
int8, symmetric, per output channel; its input activation 8-bit per tensor — unsigned where the
calibration never saw a negative value (after a ReLU), else signed and symmetric — with the range
seen on calibration inputs (min/max). The fully connected fusion layers stay fp32.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: ONNX opset of the exported graph
OPSET = 18
#: the activation range kept by int8: this percentile of each calibration batch (the rare
#: values beyond it saturate; min/max would spend the 8 bits on them)
PERCENTILE = 99.99
#: changes whenever the exported graph or the quantisation change (invalidates every cache)
EXPORT_FORMAT = 3  # 3: int8 of a non-demo checkpoint only on its own calibration data


def graph_inputs(config: Any) -> list[str]:
    """The names of the graph's inputs for a BMMN-family config: ``face`` and/or ``bio``."""
    return [n for n, use in (("face", config.uses_face), ("bio", config.uses_bio)) if use]


def _fold_batch_norm(model: Any) -> Any:
    """A copy of ``model`` whose face network has batch normalisation folded into its
    convolutions (eval mode; the same function up to float rounding)."""
    from torch.fx.experimental.optimization import fuse

    model = copy.deepcopy(model).eval()
    spatial = getattr(model, "spatial", None)
    if spatial is not None:
        spatial.net = fuse(spatial.net)
    return model


def export_onnx(model: Any, config: Any, path: Path) -> Path:
    """Write ``model`` (a BMMN-family model and its config) to ``path`` as ONNX (atomically).

    Raises
    ------
    ImportError — ``onnx`` or ``onnxscript`` is missing
    RuntimeError and others from the exporter — the network cannot be exported
    """
    import torch

    from core.models.spatial import IMAGENET_MEAN, IMAGENET_STD

    net = _fold_batch_norm(model)
    names = graph_inputs(config)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1) * 255.0

    class Frames(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            got = dict(zip(names, inputs, strict=True))
            face = got.get("face")
            if face is not None:  # uint8 BGR (N, S, S, 3) → normalised RGB (N, 3, S, S)
                x = face.flip(-1).permute(0, 3, 1, 2).float()
                face = (x - mean) / std
            out: torch.Tensor = self.net(face, got.get("bio"))["out"]
            return out

    wrapper = Frames().eval()
    n = 2
    examples: list[torch.Tensor] = []
    for name in names:
        if name == "face":
            s = config.face_size
            examples.append(torch.zeros((n, s, s, 3), dtype=torch.uint8))
        else:
            examples.append(torch.zeros((n, len(config.signals), config.bio_window)))
    batch = torch.export.Dim("batch", min=1, max=65536)
    shapes = {name: {0: batch} for name in names}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    quiet = io.StringIO()  # the exporter prints its steps
    with torch.no_grad(), contextlib.redirect_stdout(quiet), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            tuple(examples),
            str(tmp),
            dynamo=True,
            input_names=names,
            output_names=["out"],
            dynamic_shapes={"inputs": tuple(shapes.values())},
            opset_version=OPSET,
            external_data=False,
            verbose=False,
        )
    tmp.replace(path)
    return path


# --- int8 ---------------------------------------------------------------------------------------


def _conv_nodes(graph: Any) -> list[Any]:
    """The convolutions int8 applies to: the face network's 2-D convolutions after its first
    (the first sees the normalised pixels; the bio networks' 1-D convolutions are cheap, and
    both are where 8 bits cost the most accuracy)."""
    inits = {i.name: i for i in graph.initializer}
    convs = [
        n
        for n in graph.node
        if n.op_type == "Conv"
        and len(n.input) > 1
        and n.input[1] in inits
        and len(inits[n.input[1]].dims) == 4
    ]
    return convs[1:]


def activation_ranges(
    fp32: Path, batches: Iterable[dict[str, np.ndarray]], compile_fn: Callable[[Any], Any]
) -> dict[str, tuple[float, float]]:
    """The range of every quantised convolution's input activation over the calibration
    ``batches``: the mean over batches of the :data:`PERCENTILE` and its mirror (0 as the low
    end of an activation never negative).

    ``compile_fn`` compiles an ``onnx.ModelProto`` (serialised to bytes) and returns a callable
    that maps an input dict to a dict of named output arrays.
    """
    import onnx

    model = onnx.load(str(fp32))
    wanted = sorted({n.input[0] for n in _conv_nodes(model.graph)})
    have = {o.name for o in model.graph.output}
    for name in wanted:
        if name not in have:
            model.graph.output.append(
                onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
            )
    run = compile_fn(model)
    lo: dict[str, list[float]] = {k: [] for k in wanted}
    hi: dict[str, list[float]] = {k: [] for k in wanted}
    signed: dict[str, bool] = dict.fromkeys(wanted, False)
    for feed in batches:
        outs = run(feed)
        for name in wanted:
            x = outs[name].ravel()
            signed[name] |= bool(x.min() < 0.0)
            sample = x[:: max(1, len(x) // 200_000)]  # percentiles of a strided sample
            a, b = np.percentile(sample, [100.0 - PERCENTILE, PERCENTILE])
            lo[name].append(float(a))
            hi[name].append(float(b))
    return {k: (float(np.mean(lo[k])) if signed[k] else 0.0, float(np.mean(hi[k]))) for k in wanted}


def quantize_int8(fp32: Path, ranges: dict[str, tuple[float, float]], path: Path) -> Path:
    """Write the QDQ int8 form of the ``fp32`` graph to ``path`` (module docstring)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(fp32))
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    new_inits: list[Any] = []
    new_nodes: list[Any] = []
    dq_of: dict[str, str] = {}
    for k, (lo, hi) in sorted(ranges.items()):
        unsigned = lo >= 0.0
        amax = max(abs(lo), abs(hi), 1e-8)
        scale = (hi if unsigned else amax) / (255.0 if unsigned else 127.0)
        scale = max(scale, 1e-8)
        zp_type = np.uint8 if unsigned else np.int8
        s_name, z_name = f"{k}__qscale", f"{k}__qzero"
        new_inits.append(numpy_helper.from_array(np.array(scale, np.float32), s_name))
        new_inits.append(numpy_helper.from_array(np.array(0, zp_type), z_name))
        q, dq = f"{k}__q", f"{k}__dq"
        new_nodes.append(helper.make_node("QuantizeLinear", [k, s_name, z_name], [q], name=q))
        new_nodes.append(helper.make_node("DequantizeLinear", [q, s_name, z_name], [dq], name=dq))
        dq_of[k] = dq
    done_w: dict[str, str] = {}
    for node in _conv_nodes(g):
        if node.input[0] in dq_of:
            node.input[0] = dq_of[node.input[0]]
        w_name = node.input[1]
        if w_name not in done_w:
            w = numpy_helper.to_array(inits[w_name]).astype(np.float32)
            amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
            scale = np.maximum(amax / 127.0, 1e-12).astype(np.float32)
            shape = (-1,) + (1,) * (w.ndim - 1)
            wq = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
            base = f"{w_name}__int8"
            new_inits += [
                numpy_helper.from_array(wq, base),
                numpy_helper.from_array(scale, f"{base}_scale"),
                numpy_helper.from_array(np.zeros(len(scale), np.int8), f"{base}_zero"),
            ]
            out = f"{base}_dq"
            new_nodes.append(
                helper.make_node(
                    "DequantizeLinear",
                    [base, f"{base}_scale", f"{base}_zero"],
                    [out],
                    name=out,
                    axis=0,
                )
            )
            done_w[w_name] = out
        node.input[1] = done_w[w_name]
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used or i.name not in done_w]
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    # a topological order: the weights' dequantisation first (initializers only), then the
    # graph's nodes, each followed by the Q/DQ pair of the activation it produces
    pairs = {k: [n for n in new_nodes if n.name in (f"{k}__q", f"{k}__dq")] for k in dq_of}
    order = [n for n in new_nodes if n.output[0] in done_w.values()]
    for name in (i.name for i in g.input):
        order += pairs.pop(name, [])
    for n in list(g.node):
        order.append(n)
        for o in n.output:
            order += pairs.pop(o, [])
    if any(pairs.values()):
        raise RuntimeError(f"quantisation found no producer for {sorted(pairs)[:3]}")
    del g.node[:]
    g.node.extend(order)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    onnx.save(model, str(tmp))
    tmp.replace(path)
    return path
