"""Model checkpoints that cannot run code when opened.

A checkpoint is one file written by ``torch.save`` holding only tensors and plain types::

    {"format": "therascope-bmmn", "format_version": 2, "family": "deepvanet",
     "inputs": ModelInputs.to_dict(), "config": <the family's config>.to_dict(),
     "metadata": {...}, "state_dict": {name: tensor}}

and it is read with ``torch.load(..., weights_only=True)``, which refuses anything that would import
or call code. ``family`` names the model family (:mod:`core.models.families`: ``bmmn``,
``deepvanet``, ``transformer``, ``avigas``) and ``inputs`` what one sample holds (one frame and a
1000-sample window, or a sequence of frames and a segment). Format version 1 (before there were
several families; the format's name dates from then) has neither and is read as family ``"bmmn"``.
Metadata keys (those marked * are filled in from the config and the running code; the caller adds
the rest):

* ``family``*, ``inputs``*: as above
* ``variant``*, ``backbone``*: BMMN only; ``modalities``*
* ``input_sizes``*: ``{"face": [3, H, W], "bio": [n_signals, window]}``
* ``signals``*, ``bio_rate_hz``*: bio channel names and their sampling rate (Hz)
* ``output_names``*: the order of the 10 outputs
* ``code_version``*: ``core.__version__``; ``torch_version``*; ``created_at``*: UTC ISO 8601
* ``scaling``: how raw signals were scaled before training, ``{"mean": {"ecg": ..., "gsr": ...},
  "std": {...}, ...}``, in the units of ``units``; inference converts a session's signals into
  those units and applies the same scaling (:mod:`core.models.units`)
* ``units``*: the unit of each bio signal, ``{"ECG": "mV", "EDA": "uS"}``: the caller's
  ``units``, else its ``scaling["units"]``, else TheraScope's (ECG mV, EDA µS), the only units this
  version's data paths deliver. The analysis refuses a checkpoint that records no units (one
  written before they were recorded)
* ``outputs_trained``: the outputs the model learned (those with at least one label in its
  training data, :func:`core.models.outputs.labelled_outputs`), in output order; checked when
  written (the demo model's earlier ``labels_trained`` is copied here). Readers take it through
  :func:`core.models.outputs.trained_outputs`, which decides for a checkpoint without it (AMIGOS
  training data: all ten; otherwise valence and arousal only); outputs a model did not learn are
  never shown as its estimates
* ``data_fingerprint``: identifies the training data (e.g. a hash of the sample index)
* ``metrics``: evaluation results, e.g. per-label accuracy / F1
* ``provenance``: where the weights come from, ``{"fine_tuning": {"data": ..., "fingerprint":
  ...}, "pretraining": {...}}``; the Transformer's pre-training data (its participants, recorded
  sessions) are named here
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import pickletools
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

import core
from core.models.bmmn import BMMN, OUTPUT_NAMES, BMMNConfig
from core.models.families import AnyConfig, config_from_dict, family, family_of, inputs_of
from core.models.outputs import TRAINED_KEY, ordered_outputs
from core.models.units import default_units

FORMAT = "therascope-bmmn"
FORMAT_VERSION = 2

_CODE_OPCODES = {"GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX"}


class CheckpointError(ValueError):
    """A file is not a usable TheraScope checkpoint; the message says why."""


def _plain(value: Any, where: str) -> Any:
    """A copy of ``value`` made of exact plain types, which ``weights_only`` loading accepts.

    Subclasses (numpy.float64, str enums, torch's TorchVersion) would be pickled as their class
    and then refused on load, so they are converted here instead.
    """
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value.detach().to("cpu")
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has a non-string key {key!r}")
            out[str(key)] = _plain(item, f"{where}.{key}")
        return out
    raise TypeError(
        f"{where} is a {type(value).__name__}; checkpoints hold only str, int, float, bool, None, "
        "lists, dicts and tensors (convert numpy values with .tolist() or float())"
    )


def _unwrap(model: nn.Module) -> nn.Module:
    # DistributedDataParallel keeps the model in .module, torch.compile in ._orig_mod; saving the
    # wrapper would prefix every key and make the file unloadable into a plain BMMN.
    for attr in ("module", "_orig_mod"):
        inner = getattr(model, attr, None)
        if isinstance(inner, nn.Module):
            return _unwrap(inner)
    return model


def _auto_metadata(config: AnyConfig) -> dict[str, Any]:
    inputs = inputs_of(config)
    face = [3, inputs.face_size, inputs.face_size]
    bio = [len(inputs.signals), inputs.bio_samples]
    meta: dict[str, Any] = {"family": family_of(config).name, "inputs": inputs.to_dict()}
    if isinstance(config, BMMNConfig):
        meta.update(variant=config.variant, backbone=config.backbone)
    else:
        face = [inputs.frames, *face]
    meta.update(
        modalities=getattr(config, "modalities", "both"),
        input_sizes={"face": face, "bio": bio},
        signals=list(inputs.signals),
        bio_rate_hz=inputs.bio_rate_hz,
        output_names=list(OUTPUT_NAMES),
        code_version=core.__version__,
        torch_version=torch.__version__,
        created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    return meta


def save_checkpoint(
    path: str | os.PathLike[str], model: nn.Module, config: AnyConfig, metadata: dict[str, Any]
) -> Path:
    """Write ``model`` with its config and metadata to ``path`` (atomically).

    Parameters
    ----------
    path
        Destination file; it is replaced only once the new file is completely written.
    model
        The model, of any family (a DDP or ``torch.compile`` wrapper around it is unwrapped).
    config
        The config the model was built from (its class says the family).
    metadata
        Caller's metadata (``scaling``, ``data_fingerprint``, ``metrics``, …; plain types and
        tensors only). Keys derived from ``config`` are always written from ``config``;
        ``units`` is filled in when not given (module docstring); ``outputs_trained`` is checked
        (ValueError: an unknown output).

    Returns
    -------
    Path
        The written file.
    """
    if not metadata.get("units"):
        scaling = metadata.get("scaling")
        stated = scaling.get("units") if isinstance(scaling, Mapping) else None
        metadata = {**metadata, "units": dict(stated or default_units(config.signals))}
    stated_outputs = metadata.get(TRAINED_KEY, metadata.get("labels_trained"))
    if stated_outputs is not None:  # refused here when wrong, rather than misread later
        checked = ordered_outputs(stated_outputs, f"metadata {TRAINED_KEY}")
        metadata = {**metadata, TRAINED_KEY: checked}
    inner = _unwrap(model)
    built = getattr(inner, "config", None)
    if built is not None and (
        type(built) is not type(config) or _rebuild_config(built) != _rebuild_config(config)
    ):
        raise ValueError("config does not match the config the model was built with")
    meta = _plain({**metadata, **_auto_metadata(config)}, "metadata")
    state = {k: v.detach().to("cpu") for k, v in inner.state_dict().items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "family": meta["family"],
        "inputs": meta["inputs"],
        "config": _plain(config.to_dict(), "config"),
        "metadata": meta,
        "state_dict": state,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def _rebuild_config(config: Any) -> Any:
    # backbone weights only matter for a fresh build; a saved model brings all its weights.
    if isinstance(config, BMMNConfig):
        return dataclasses.replace(config, backbone_weights="none")
    if hasattr(config, "face_weights"):
        return dataclasses.replace(config, face_weights="none")
    return config


def _has_code_opcodes(path: Path) -> bool:
    # pickletools only parses, it never imports or calls anything, so it is safe on hostile data.
    # Only a complete, well-formed pickle counts: random bytes can begin with a GLOBAL opcode.
    try:
        with path.open("rb") as fh:
            names = [op.name for op, _arg, _pos in pickletools.genops(fh)]
    except Exception:  # not a pickle (random bytes, a zip archive): no verdict
        return False
    return bool(_CODE_OPCODES.intersection(names))


def _read(path: Path, map_location: Any) -> Any:
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file" if path.exists() else f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            # torch warns about the pickle protocol of foreign files before refusing them.
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for bad files; classify them below
        text = str(exc)
        if "GLOBAL" in text or "Unsupported global" in text or _has_code_opcodes(path):
            raise CheckpointError(
                f"{path}: refused: this file contains code, not just weights "
                "(TheraScope checkpoints never do; nothing in it was run)"
            ) from exc
        # torch's weights-only message opens with advice to load unsafely; keep only the cause.
        cause = re.search(r"WeightsUnpickler error:\s*(\S.*)", text)
        first = cause.group(1) if cause else (text.splitlines()[0] if text else "empty file")
        raise CheckpointError(
            f"{path}: cannot be read; it is truncated, corrupt or not a model checkpoint "
            f"({type(exc).__name__}: {first})"
        ) from exc


def _check_state(model: nn.Module, state: Any, path: Path) -> dict[str, Tensor]:
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: the checkpoint's state_dict is not a mapping of tensors")
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k} {tuple(state[k].shape)} (model needs {tuple(own[k].shape)})"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing weights (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected weights (e.g. {', '.join(unexpected[:3])})")
    if shapes:
        problems.append(f"{len(shapes)} with the wrong shape (e.g. {'; '.join(shapes[:3])})")
    if problems:
        raise CheckpointError(
            f"{path}: the weights do not match the model its config describes: "
            + "; ".join(problems)
        )
    return dict(state)


class FamilyNotSupportedError(CheckpointError):
    """A sound checkpoint of a model family the caller cannot run; the message says which."""


def load_any_checkpoint(
    path: str | os.PathLike[str], map_location: Any = "cpu"
) -> tuple[nn.Module, AnyConfig, dict[str, Any]]:
    """Read a checkpoint of any family written by :func:`save_checkpoint`.

    Parameters
    ----------
    path
        The checkpoint file.
    map_location
        Passed to ``torch.load`` (e.g. ``"cpu"``, ``"cuda"``); the model is built on the CPU and
        its weights are loaded from tensors on that device.

    Returns
    -------
    model, config, metadata
        The model in eval mode, its config (whose class says the family) and the stored metadata,
        with ``family`` and ``inputs`` always there (filled in for format-1 files: ``"bmmn"``).

    Raises
    ------
    CheckpointError
        Missing, truncated or corrupt file; a file carrying code (refused, never run); a foreign
        format (e.g. a bare torchvision state dict); a newer format version; an unknown family;
        weights that do not match the stored config.
    """
    path = Path(path)
    obj = _read(path, map_location)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        hint = ""
        if isinstance(obj, Mapping) and obj and all(isinstance(v, Tensor) for v in obj.values()):
            hint = " (it looks like a bare state dict, e.g. torchvision backbone weights)"
        raise CheckpointError(f"{path}: not a TheraScope model checkpoint{hint}")
    version = obj.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{path}: checkpoint has no valid format_version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer TheraScope (checkpoint format {version}; this version "
            f"reads up to {FORMAT_VERSION}); update TheraScope to use it"
        )
    if version < 1:
        raise CheckpointError(f"{path}: invalid checkpoint format_version {version}")
    metadata = obj.get("metadata")
    raw_config = obj.get("config")
    if not isinstance(metadata, dict) or not isinstance(raw_config, dict):
        raise CheckpointError(f"{path}: checkpoint lacks its config or metadata")
    name = obj.get("family", "bmmn") if version >= 2 else "bmmn"
    try:
        family(str(name))
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc} (a newer TheraScope may know it)") from exc
    try:
        config = config_from_dict(str(name), raw_config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid model config in checkpoint: {exc}") from exc
    # The file brings every weight, so never download or read backbone weights here.
    model = family(str(name)).build(_rebuild_config(config))
    state = _check_state(model, obj.get("state_dict"), path)
    model.load_state_dict(state, strict=True)
    model.eval()
    metadata = {**metadata, "family": str(name), "inputs": inputs_of(config).to_dict()}
    return model, config, metadata


def load_checkpoint(
    path: str | os.PathLike[str], map_location: Any = "cpu"
) -> tuple[BMMN, BMMNConfig, dict[str, Any]]:
    """Read a BMMN-family checkpoint (BMMN, BMMN-BAE-1/2): :func:`load_any_checkpoint`, which see.

    Raises
    ------
    FamilyNotSupportedError
        (a :class:`CheckpointError`) the file holds another family's model; the message names the
        family and the inputs it needs.
    CheckpointError
        As :func:`load_any_checkpoint`.
    """
    model, config, metadata = load_any_checkpoint(path, map_location)
    if not isinstance(model, BMMN) or not isinstance(config, BMMNConfig):
        fam = family_of(config)
        raise FamilyNotSupportedError(
            f"{Path(path)}: holds a {fam.title} model (family '{fam.name}', paper {fam.paper}), "
            f"which needs {inputs_of(config).describe()}; this part of TheraScope runs only "
            "BMMN-family models (one frame and a 1000-sample window at a time)"
        )
    return model, config, metadata


def update_metadata(path: str | os.PathLike[str], updates: dict[str, Any]) -> Path:
    """Rewrite a checkpoint with ``updates`` merged into its metadata; weights stay as they are.

    For facts that are known about an existing checkpoint but were not recorded when it was
    written (e.g. the units of a model trained on TheraScope sessions, which are always mV/µS).

    Parameters
    ----------
    path
        A checkpoint :func:`load_any_checkpoint` accepts; it is replaced atomically.
    updates
        Top-level metadata keys and their new values (plain types only).

    Returns
    -------
    Path
        The rewritten file.
    """
    path = Path(path)
    load_any_checkpoint(path)  # refuses anything that is not a sound checkpoint
    obj = _read(path, "cpu")
    obj["metadata"] = {**obj["metadata"], **_plain(updates, "metadata")}
    tmp = path.with_name(path.name + ".partial")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path
