"""Write THIRD-PARTY-LICENSES.txt for a built bundle (run by packaging/build.sh with the build venv).

Covers everything the bundle ships:
- every Python distribution installed in the build venv whose files made it into the bundle
  (its licence metadata, and the full text of each licence file in its .dist-info or named in
  ``License-File``), the build tools excluded (PyInstaller's bootloader is under the GPL with an
  exception that lets it start any program; its notice is included);
- the Python runtime itself (PSF licence);
- shared libraries PyInstaller copied from the system (each mapped to its Debian package and that
  package's copyright file, where dpkg knows it);
- Qt / PySide6 (LGPL-3.0): the notice that says how to replace the Qt libraries;
- the files of resources/ that carry their own licences (fonts, MTCNN weights).

Usage: python third_party_licenses.py BUNDLE_DIR SRC_DIR PYINSTALLER_WORKDIR OUT_FILE
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

BUILD_ONLY = {
    "pyinstaller",
    "pyinstaller-hooks-contrib",
    "altgraph",
    "pip",
    "wheel",
    "setuptools",
    "packaging",
}

QT_NOTICE = """\
Qt for Python (PySide6, shiboken6) and the Qt libraries
=======================================================
TheraScope uses Qt for Python (PySide6-Essentials, shiboken6) and the Qt 6 libraries under the GNU
Lesser General Public License version 3 (LGPL-3.0-only); the full text of the LGPL-3.0 and the
GPL-3.0 it builds on follow in the PySide6/shiboken6 sections below where the wheels carry them,
and at https://www.gnu.org/licenses/lgpl-3.0.html.

The Qt libraries are linked dynamically and are shipped unmodified as separate files in
_internal/PySide6/Qt/lib/ (Linux), PySide6/ (Windows) or the app's Frameworks (macOS). You may
replace them with your own build of the same Qt version (or a compatible one) and the application
will use it. The source code of Qt and of Qt for Python is available from
https://download.qt.io/official_releases/ and https://code.qt.io/ (pyside/pyside-setup); on
request we provide a copy of the exact sources of the Qt version in this bundle for three years
from its release.
"""


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _shipped(dist: metadata.Distribution, bundle: Path) -> bool:
    """Whether any top-level module of ``dist`` is in the bundle (as files or in the archive)."""
    tops: set[str] = set()
    for f in dist.files or []:
        parts = f.parts
        if not parts or parts[0].endswith((".dist-info", ".egg-info", ".data")) or parts[0] == "..":
            continue
        tops.add(parts[0].removesuffix(".py").split(".")[0])
    if not tops:
        return False
    internal = bundle / "_internal"
    names = {p.name.split(".")[0] for p in internal.iterdir()} if internal.is_dir() else set()
    listed = _archive_modules(bundle)
    return any(t in names or t in listed for t in tops)


_ARCHIVE: set[str] = set()


def _read_archive_toc(workdir: Path) -> None:
    """Top-level names of the modules PyInstaller put in the PYZ archive (its PYZ-*.toc lists)."""
    for toc in workdir.rglob("PYZ-*.toc"):
        text = toc.read_text(encoding="utf-8", errors="replace")
        _ARCHIVE.update(m.split(".")[0] for m in re.findall(r"\(\s*'([A-Za-z0-9_.]+)',", text))


def _archive_modules(bundle: Path) -> set[str]:
    return _ARCHIVE


def _licence_files(dist: metadata.Distribution) -> list[tuple[str, str]]:
    """(relative path, text) of the licence/notice/copying files a distribution carries."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    named = dist.metadata.get_all("License-File") or []
    for f in dist.files or []:
        s = str(f)
        low = f.name.lower()
        is_licence = any(k in low for k in ("licen", "copying", "notice", "authors"))
        in_meta = f.parts[0].endswith(".dist-info")
        if (
            (in_meta and is_licence)
            or any(s.endswith(n) for n in named)
            or (is_licence and len(f.parts) <= 3 and f.suffix in ("", ".txt", ".md", ".rst"))
        ):
            if s in seen:
                continue
            try:
                text = Path(str(f.locate())).read_text(encoding="utf-8", errors="replace")
            except (OSError, UnicodeDecodeError):
                continue
            if text and text.strip():
                seen.add(s)
                found.append((s, text))
    return found


def _python_licence() -> str:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for cand in (stdlib / "LICENSE.txt", Path(sys.base_prefix) / "LICENSE.txt"):
        if cand.is_file():
            return cand.read_text(encoding="utf-8", errors="replace")
    return "Python Software Foundation License Version 2 (https://docs.python.org/3/license.html)\n"


def _system_libraries(bundle: Path) -> list[str]:
    """Sections for shared libraries copied from the system (outside site-packages)."""
    internal = bundle / "_internal"
    sections: list[str] = []
    packages: dict[str, list[str]] = {}
    unknown: list[str] = []
    for lib in sorted(internal.glob("*.so*")):
        if lib.name.startswith("libpython"):
            continue
        try:
            out = subprocess.run(
                ["dpkg", "-S", f"*/{lib.name}"], capture_output=True, text=True, check=False
            ).stdout
        except FileNotFoundError:
            out = ""
        pkg = out.split(":", 1)[0].strip() if out else ""
        if pkg:
            packages.setdefault(pkg, []).append(lib.name)
        else:
            unknown.append(lib.name)
    for pkg, libs in sorted(packages.items()):
        copyright_file = Path("/usr/share/doc") / pkg / "copyright"
        text = (
            copyright_file.read_text(encoding="utf-8", errors="replace")
            if copyright_file.is_file()
            else "(no copyright file found)"
        )
        sections.append(_section(f"{pkg} (Debian package; ships {', '.join(libs)})", text))
    if unknown:
        sections.append(
            _section(
                "Other shared libraries at the top of _internal/",
                "These came with the Python runtime or a wheel's .libs folder and are covered by "
                "the section of that runtime or wheel:\n" + "\n".join(unknown),
            )
        )
    return sections


def _section(title: str, body: str) -> str:
    bar = "=" * min(len(title), 100)
    return f"\n\n{title}\n{bar}\n{body.rstrip()}\n"


def main(bundle: Path, src: Path, workdir: Path, out: Path) -> int:
    _read_archive_toc(workdir)
    parts: list[str] = [
        "THIRD-PARTY LICENCES OF THE THERASCOPE BUNDLE\n"
        "Generated by packaging/third_party_licenses.py from the metadata of the distributions "
        "installed in the build environment and shipped in this bundle.\n"
        "TheraScope itself is GPL-3.0-or-later.\n",
        QT_NOTICE,
    ]
    dists = sorted(metadata.distributions(), key=lambda d: _norm(d.metadata["Name"] or ""))
    shipped, skipped = [], []
    seen_names: set[str] = set()
    for dist in dists:
        name = dist.metadata["Name"] or "?"
        if _norm(name) in seen_names:
            continue
        seen_names.add(_norm(name))
        if _norm(name) in BUILD_ONLY or _norm(name) == "therascope":
            continue
        if not _shipped(dist, bundle):
            skipped.append(name)
            continue
        shipped.append(name)
        expr = dist.metadata.get("License-Expression") or ""
        lic = dist.metadata.get("License") or ""
        classifiers = [
            c.split(" :: ")[-1]
            for c in dist.metadata.get_all("Classifier") or []
            if c.startswith("License ::")
        ]
        head = [
            f"Version: {dist.version}",
            f"Licence: {expr or (lic.splitlines()[0] if lic else '') or ', '.join(classifiers) or 'see the files below'}",
        ]
        if dist.metadata.get("Home-page"):
            head.append(f"Home page: {dist.metadata['Home-page']}")
        for url in dist.metadata.get_all("Project-URL") or []:
            head.append(f"Project URL: {url}")
        body = "\n".join(head)
        files = _licence_files(dist)
        if files:
            for path, text in files:
                body += f"\n\n--- {path} ---\n{text.rstrip()}"
        elif lic and len(lic) > 80:
            body += "\n\n" + lic
        parts.append(_section(f"{name} {dist.version}", body))
    parts.append(_section(f"Python {sys.version.split()[0]} (the runtime)", _python_licence()))
    parts.append(
        _section(
            "PyInstaller bootloader",
            "The executable's launcher is PyInstaller's bootloader, GPL-2.0-or-later with the "
            "PyInstaller exception, which allows it to be used to start programs under any "
            "licence (https://pyinstaller.org/en/stable/license.html).",
        )
    )
    for rel in sorted((src / "resources").rglob("*")) if (src / "resources").is_dir() else []:
        low = rel.name.lower()
        if rel.is_file() and ("licen" in low or (low == "readme.md" and "models" in rel.parts)):
            parts.append(
                _section(
                    f"resources/{rel.relative_to(src / 'resources')}",
                    rel.read_text(encoding="utf-8", errors="replace"),
                )
            )
    parts += _system_libraries(bundle)
    out.write_text("".join(parts), encoding="utf-8")
    print(
        f"licences: {len(shipped)} distributions in {out.name} "
        f"({len(skipped)} installed but not shipped: {', '.join(skipped) or 'none'})"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    sys.exit(main(*(Path(a) for a in sys.argv[1:5])))
