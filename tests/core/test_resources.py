"""Shipped files are found through core.resources (importlib.resources), never by module paths."""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

import pytest

from core.resources import ResourceError, package_path, resource_path

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_files_are_found() -> None:
    assert resource_path("models", "demo-bmmn-bae2.pt").is_file()
    assert resource_path("models", "faces", "mtcnn.pt").is_file()
    assert resource_path("fonts", "DejaVuSans.ttf").is_file()
    assert resource_path("protocol", "stream-format-v1.md").is_file()
    assert "CREATE TABLE" in package_path("core.catalog", "schema_v1.sql").read_text("utf-8")
    assert package_path("core.models", "MODEL_CARD.md").is_file()
    assert sorted(p.name for p in package_path("core.models", "cards").glob("*.md"))


def test_the_call_sites_use_it() -> None:
    from core.faces.mtcnn import WEIGHTS_FILE
    from core.learning.demo_model import SHIPPED
    from core.report.fonts import FONT_DIR

    assert resource_path("models", "demo-bmmn-bae2.pt") == SHIPPED
    assert resource_path("models", "faces", "mtcnn.pt") == WEIGHTS_FILE
    assert resource_path("fonts") == FONT_DIR


def test_no_module_finds_files_by_its_own_path() -> None:
    # A path built from __file__ points into the source tree and breaks in a wheel or a bundle.
    found = []
    for pkg in ("app", "core", "devices"):
        for py in sorted((ROOT / pkg).rglob("*.py")):
            text = py.read_text(encoding="utf-8")
            if re.search(r"\b__file__\b", text) and py.name != "resources.py":
                found.append(str(py.relative_to(ROOT)))
    assert found == []


def test_a_file_in_a_zipped_package_is_extracted(tmp_path: Path) -> None:
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped_resources_probe/__init__.py", "")
        z.writestr("zipped_resources_probe/data/table.txt", "rows\n")
    sys.path.insert(0, str(archive))
    try:
        path = package_path("zipped_resources_probe", "data", "table.txt")
        assert path.is_file() and path.read_text() == "rows\n"
        assert package_path("zipped_resources_probe", "data", "table.txt") == path  # once
        with pytest.raises(ResourceError, match="folder inside an archive"):
            package_path("zipped_resources_probe", "data")
    finally:
        sys.path.remove(str(archive))
        sys.modules.pop("zipped_resources_probe", None)


def test_a_missing_package_is_explained() -> None:
    with pytest.raises(ResourceError, match="therascope' command"):
        package_path("no_such_therascope_package")
