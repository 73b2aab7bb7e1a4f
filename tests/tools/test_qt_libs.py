"""tools/qt_libs.sh and tools/run.sh's check for Qt's system libraries: a fake ``ldconfig`` on PATH
lists what the "system" has, an os-release file says which distribution it is; the exact install
command is printed for Debian and Fedora, offscreen runs ask for fewer libraries, and run.sh
--install-system-libs runs the package manager (a fake one) before it starts TheraScope."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "qt_libs.sh"
RUN = ROOT / "tools" / "run.sh"
DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n'
UBUNTU = 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nID_LIKE=debian\n'
FEDORA = 'NAME="Fedora Linux"\nPRETTY_NAME="Fedora Linux 41 (Workstation Edition)"\nID=fedora\n'

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def table() -> list[tuple[str, str, str, str, str, str]]:
    """The script's rows: (soname, debian, fedora, arch, opensuse, needed for)."""
    text = SCRIPT.read_text()
    body = text.split('LIBS="', 1)[1].split('"', 1)[0]
    return [tuple(line.split()) for line in body.splitlines() if line.strip()]  # type: ignore[misc]


def listing_line(soname: str) -> str:
    return f"\t{soname} (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/{soname}\n"


@pytest.fixture
def system(tmp_path):
    """A fake system: ``ldconfig -p`` prints ``listing``, ``id -u`` says 1000 (not root), a fake
    ``sudo`` runs its command, a fake ``apt-get``/``dnf`` logs its arguments and "installs" the
    libraries by adding them to the listing."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    listing = tmp_path / "listing"
    log = tmp_path / "pm.log"
    listing.write_text("")
    (bin_ / "ldconfig").write_text(
        f"#!/bin/sh\necho \"42 libs found in cache '/etc/ld.so.cache'\"\ncat {listing}\n"
    )
    (bin_ / "id").write_text('#!/bin/sh\n[ "$1" = -u ] && echo 1000 || exec /usr/bin/id "$@"\n')
    (bin_ / "sudo").write_text('#!/bin/sh\necho "sudo $*" >> ' + f'{log}\nexec "$@"\n')
    full = tmp_path / "full-listing"
    full.write_text("".join(listing_line(row[0]) for row in table()))
    for pm in ("apt-get", "dnf"):  # "installs" every library: the listing becomes complete
        (bin_ / pm).write_text(
            f'#!/bin/sh\necho "{pm} $*" >> {log}\n[ "$1" = install ] && cp {full} {listing}\n'
            "exit 0\n"
        )
    for f in bin_.iterdir():
        f.chmod(0o755)

    class System:
        path = tmp_path

        def has(self, sonames: list[str]) -> None:
            listing.write_text("".join(listing_line(s) for s in sonames))

        def os(self, text: str) -> Path:
            p = tmp_path / "os-release"
            p.write_text(text)
            return p

        def run(
            self,
            *args: str,
            os_text: str = DEBIAN,
            platform: str | None = None,
            script: Path = SCRIPT,
            cwd: Path | None = None,
        ) -> subprocess.CompletedProcess[str]:  # noqa: E501
            env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("QT_QPA_PLATFORM", "LD_LIBRARY_PATH")
            }
            env["PATH"] = f"{bin_}:{env['PATH']}"
            env["THERASCOPE_OS_RELEASE"] = str(self.os(os_text))
            if platform:
                env["QT_QPA_PLATFORM"] = platform
            return subprocess.run(
                ["bash", str(script), *args],
                env=env,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                timeout=60,
            )

        def log(self) -> str:
            return log.read_text() if log.exists() else ""

    return System()


def sonames(needed_for: str | None = None) -> list[str]:
    return [r[0] for r in table() if needed_for is None or r[5] == needed_for]


XCB_ONLY_MISSING = ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


def test_debian_missing_xcb_libraries_prints_the_exact_apt_command(system):
    system.has([s for s in sonames() if s not in XCB_ONLY_MISSING])
    r = system.run()
    assert r.returncode == 1
    assert "Debian GNU/Linux 12 (bookworm)" in r.stderr
    assert "libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1" in r.stderr
    assert "  sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1\n" in r.stderr
    assert "bash tools/run.sh --install-system-libs" in r.stderr
    assert system.log() == ""  # nothing installed unless asked


def test_fedora_gets_its_own_package_names(system):
    gone = XCB_ONLY_MISSING + ["libxcb-shm.so.0", "libxcb-xfixes.so.0"]
    system.has([s for s in sonames() if s not in gone])
    r = system.run(os_text=FEDORA)
    assert r.returncode == 1
    assert "Fedora Linux 41" in r.stderr
    # libxcb-shm and libxcb-xfixes are both in libxcb: one package, named once
    assert "  sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms libxcb\n" in r.stderr


def test_ubuntu_is_debian_like(system):
    system.has([s for s in sonames() if s != "libxkbcommon-x11.so.0"])
    r = system.run(os_text=UBUNTU)
    assert r.returncode == 1
    assert "  sudo apt-get install libxkbcommon-x11-0\n" in r.stderr


def test_offscreen_needs_no_xcb_libraries(system):
    system.has(sonames("all"))
    assert system.run(platform="offscreen").returncode == 0
    assert system.run(platform="offscreen").stderr == ""
    r = system.run(platform="xcb")
    assert r.returncode == 1 and "libxcb-cursor0" in r.stderr
    system.has([s for s in sonames("all") if s != "libEGL.so.1"])
    r = system.run(platform="offscreen")
    assert r.returncode == 1
    assert "  sudo apt-get install libegl1\n" in r.stderr


def test_everything_present_says_nothing(system):
    system.has(sonames())
    r = system.run()
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_an_unknown_distribution_gets_the_file_names(system):
    system.has([s for s in sonames() if s != "libxcb-cursor.so.0"])
    r = system.run(os_text='PRETTY_NAME="Some Linux"\nID=somelinux\n')
    assert r.returncode == 1
    assert "libxcb-cursor.so.0" in r.stderr and "Install the packages" in r.stderr
    assert "apt-get" not in r.stderr and "dnf" not in r.stderr


@pytest.fixture
def fake_tree(tmp_path):
    """A copy of run.sh and qt_libs.sh beside a fake .venv whose python does nothing and whose
    therascope prints its arguments, so run.sh runs end to end without installing anything."""
    tree = tmp_path / "tree"
    (tree / "tools").mkdir(parents=True)
    for f in (RUN, SCRIPT):
        shutil.copy(f, tree / "tools" / f.name)
    venv = tree / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text("#!/bin/sh\nexit 0\n")
    (venv / "therascope").write_text('#!/bin/sh\necho "therascope started: $*"\n')
    for f in venv.iterdir():
        f.chmod(0o755)
    return tree


def test_run_sh_stops_with_the_command_before_a_qt_plugin_error(system, fake_tree):
    system.has([s for s in sonames() if s not in XCB_ONLY_MISSING])
    r = system.run(script=fake_tree / "tools" / "run.sh")
    assert r.returncode == 1
    assert "  sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1\n" in r.stderr
    assert "therascope started" not in r.stdout
    # a command without a window is not held up by the window's libraries
    r = system.run("--data-dir", "/somewhere", "selftest", script=fake_tree / "tools" / "run.sh")
    assert r.returncode == 0, r.stderr
    assert "therascope started: --data-dir /somewhere selftest" in r.stdout


def test_run_sh_installs_the_libraries_only_when_asked(system, fake_tree):
    system.has([s for s in sonames() if s not in XCB_ONLY_MISSING])
    r = system.run("--install-system-libs", script=fake_tree / "tools" / "run.sh")
    assert r.returncode == 0, r.stderr
    calls = system.log().splitlines()
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 -y" in calls
    assert "apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 -y" in calls
    assert "therascope started: --demo" in r.stdout


def test_the_list_covers_what_pyside6_links_against():
    """Every system library the installed PySide6's xcb and offscreen plugins (and the Qt libraries
    they load) name as NEEDED is in the script's table; those of offscreen are marked "all"."""
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf (binutils) is not installed")
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    bundled = {p.name for p in (qt / "lib").iterdir()}
    base = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2"}
    base |= {"libpthread.so.0", "libdl.so.2", "librt.so.1", "ld-linux-aarch64.so.1"}

    def needed(*files: Path) -> set[str]:
        out = set()
        for f in files:
            text = subprocess.run([readelf, "-d", str(f)], capture_output=True, text=True).stdout
            out |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", text))
        return {n for n in out if n not in bundled and n not in base}

    lib = qt / "lib"
    core = [lib / "libQt6Core.so.6", lib / "libQt6Gui.so.6", lib / "libQt6Widgets.so.6"]
    offscreen = needed(qt / "plugins" / "platforms" / "libqoffscreen.so", *core)
    xcb = needed(
        qt / "plugins" / "platforms" / "libqxcb.so",
        lib / "libQt6XcbQpa.so.6",
        lib / "libQt6DBus.so.6",
        *core,
    )
    assert offscreen <= set(sonames("all"))
    assert xcb <= set(sonames())
