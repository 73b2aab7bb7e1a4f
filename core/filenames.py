"""File names built from data (patient codes, session uids): one safe name, in one folder, on
Windows, macOS and Linux.

A patient code is whatever the therapist typed ("../../etc/x", "A/B", "CON", "é 你好"); put into a
default file name as it is, it could name another folder, a device (``CON``, ``NUL`` on Windows)
or a name Windows refuses. :func:`safe_name_part` makes such text one harmless piece of a name;
:func:`safe_file_name` does the same to a whole name, keeping its suffix.
"""

from __future__ import annotations

import re
import unicodedata

#: the parts TheraScope's default names are built from are kept this short (UTF-8 bytes)
MAX_PART_BYTES = 64
#: a whole default name stays this short (UTF-8 bytes; every file system allows 255)
MAX_NAME_BYTES = 200

#: names Windows keeps for devices, with or without a suffix ("nul.pdf" too), in any case
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{dev}{n}" for dev in ("COM", "LPT") for n in (*"0123456789", "¹", "²", "³")]
)
#: what Windows refuses in a name, the path separators, and runs of dots ("..")
_INVALID = re.compile(r'[<>:"/\\|?*]|\.{2,}')
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}$")


def _clean(text: str) -> str:
    """Replace every run of characters a name must not hold with one ``_``."""
    text = unicodedata.normalize("NFC", text)
    # control, format (e.g. right-to-left overrides), surrogate, private and unassigned characters,
    # and every kind of space (line and paragraph separators among them)
    text = "".join(
        "_" if unicodedata.category(ch)[0] in "CZ" or ch.isspace() else ch for ch in text
    )
    return re.sub(r"_{2,}", "_", _INVALID.sub("_", text))


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _trim(text: str, max_bytes: int, *, middle: bool = False) -> str:
    """Cut ``text`` to ``max_bytes`` UTF-8 bytes (whole characters) at its end, or in its
    ``middle`` (marked ``…``: both ends of a whole name tell what it is), then strip what a name
    must not start or end with (dots: hidden on Unix, dropped by Windows; spaces; ``_``)."""
    text = text.strip("._ ")
    if _size(text) > max_bytes and middle and max_bytes > 8:
        head, tail = text[: len(text) // 2], text[len(text) // 2 :]
        while _size(head) + _size(tail) + _size("…") > max_bytes:
            if _size(head) >= _size(tail):
                head = head[:-1]
            else:
                tail = tail[1:]
        text = f"{head}…{tail}"
    while _size(text) > max_bytes:
        text = text[:-1]
    return text.strip("._ ")


def _unreserved(name: str) -> str:
    """``name``, or with ``_`` after its first part when that part is a Windows device name."""
    head, dot, tail = name.partition(".")
    return f"{head}_{dot}{tail}" if head.upper() in _RESERVED else name


def safe_name_part(text: str, *, max_bytes: int = MAX_PART_BYTES, fallback: str = "_") -> str:
    """``text`` as one piece of a file name.

    Path separators, characters Windows refuses (``<>:"/\\|?*``), runs of dots, control and other
    invisible characters and spaces become ``_`` (one per run); dots, spaces and ``_`` are taken
    off both ends; letters of any script stay; a Windows device name (``CON``, ``NUL``, ``COM1`` …)
    gets a ``_``.

    Parameters
    ----------
    text : str — e.g. a patient code
    max_bytes : int — the longest result, in UTF-8 bytes
    fallback : str — the result when nothing is left (it is cleaned too)

    Returns
    -------
    str — never empty, never ``.`` or ``..``, no separator: a name in the folder it is put in
    """
    part = _unreserved(_trim(_clean(str(text)), max_bytes))
    if part:
        return part
    return _unreserved(_trim(_clean(fallback), max_bytes)) or "_"


def safe_file_name(name: str, *, max_bytes: int = MAX_NAME_BYTES) -> str:
    """A whole file name made safe as :func:`safe_name_part` does, its suffix (e.g. ``.pdf``)
    kept.

    Parameters
    ----------
    name : str — e.g. ``f"TheraScope_{code}_{uid}.png"`` with the code as typed
    max_bytes : int — the longest result, in UTF-8 bytes (the stem is shortened)

    Returns
    -------
    str — one file name: no separators, no ``..``, no control characters, nothing Windows
    refuses or keeps for a device, no dot or space at the end; a name too long loses the middle
    of its stem (``…``), so its start and its end (e.g. the session uid) stay
    """
    name = str(name)
    m = _SUFFIX.search(name)
    suffix = m.group(0).lower() if m else ""
    stem = name[: m.start()] if m else name
    room = max_bytes - len(suffix)
    stem = _unreserved(_trim(_clean(stem), room, middle=True))
    return (stem or "TheraScope") + suffix
