"""One entry point for every foreign format: :func:`read_recording` picks the reader by the
file's first bytes, then by its extension."""

from __future__ import annotations

from pathlib import Path

from core.formats.model import FormatError, Recording

#: what the import accepts, for file dialogs and messages
FORMAT_NAMES = {
    ".txt": "OpenSignals text",
    ".h5": "OpenSignals HDF5",
    ".edf": "EDF / EDF+",
    ".bdf": "BDF / BDF+",
    ".xdf": "XDF (LabRecorder)",
}
FILE_PATTERNS = "*.txt *.h5 *.hdf5 *.edf *.bdf *.rec *.xdf"


def sniff(path: Path) -> str:
    """``"opensignals-text"``, ``"opensignals-h5"``, ``"edf"``, ``"xdf"`` or ``""`` from the
    first bytes of ``path``."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head.startswith(b"XDF:"):
        return "xdf"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "opensignals-h5"
    if head.startswith(b"# OpenSignals"):
        return "opensignals-text"
    if head[:1] == b"\xff" and head[1:8] == b"BIOSEMI":
        return "edf"
    if head[:8] == b"0       ":
        return "edf"
    return ""


def read_recording(path: Path | str) -> Recording:
    """The recording in ``path`` (OpenSignals .txt/.h5, EDF/EDF+/BDF/BDF+, XDF).

    Raises
    ------
    FormatError — not a format TheraScope reads, or a damaged file (the message says which)
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"No file at {path}")
    try:
        kind = sniff(path)
    except OSError as exc:
        raise FormatError(f"{path.name} cannot be read: {exc.strerror or exc}") from exc
    if not kind:
        ext = path.suffix.lower()
        known = ", ".join(f"{v} ({k})" for k, v in FORMAT_NAMES.items())
        if ext in (".txt", ".h5", ".hdf5"):
            kind = "opensignals-text" if ext == ".txt" else "opensignals-h5"
        elif ext in (".edf", ".bdf", ".rec"):
            kind = "edf"
        elif ext == ".xdf":
            kind = "xdf"
        else:
            raise FormatError(f"{path.name} is not a recording TheraScope reads ({known})")
    if kind == "xdf":
        from core.formats.xdf import read_xdf

        rec = read_xdf(path)
    elif kind == "edf":
        from core.formats.edf import read_edf

        rec = read_edf(path)
    else:
        from core.formats.opensignals import read_opensignals

        rec = read_opensignals(path)
    return unique_labels(rec)


def unique_labels(rec: Recording) -> Recording:
    """``rec`` with every channel label told apart: labels that occur more than once get
    ``-0``, ``-1``... (as MNE names them), so each channel can be chosen by its label.

    Real files repeat labels: OpenSignals' EDF export labels every unnamed channel ``"RAW"``.
    """
    counts: dict[str, int] = {}
    for c in rec.channels:
        counts[c.label] = counts.get(c.label, 0) + 1
    taken = {c.label for c in rec.channels}
    seen: dict[str, int] = {}
    renamed = []
    for c in rec.channels:
        if counts[c.label] < 2:
            continue
        old = c.label
        k = seen.get(old, 0)
        new = f"{old}-{k}"
        while new in taken:
            k += 1
            new = f"{old}-{k}"
        seen[old] = k + 1
        taken.add(new)
        c.label = new
        renamed.append(new)
    if renamed:
        rec.notes.append(
            "Channels with the same label were told apart: " + ", ".join(renamed) + "."
        )
    return rec
