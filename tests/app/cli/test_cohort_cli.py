"""``therascope cohort``: real sessions only unless --include-simulated, no p-values below six
patients."""

from __future__ import annotations

import json

import pytest

from app.cli.main import main
from core.analysis.circumplex import cohort_shift
from core.catalog import Catalog
from core.config import data_dir
from tests.core.analysis.cohort_data import POST, PRE, add_cohort, add_session


@pytest.fixture
def catalog(app_env):  # type: ignore[no-untyped-def]
    root = data_dir()
    cat = Catalog.open(root / "catalog.sqlite")
    add_cohort(cat, root, 5)
    sim = cat.add_patient("S-01")
    add_session(cat, root, sim.id, tuple(PRE[5]), tuple(POST[5]), simulated=True)
    demo = cat.add_patient("DEMO", is_demo=True)
    add_session(cat, root, demo.id, (-0.9, 0.9), (0.9, -0.9))
    cat.close()
    return root


def test_five_real_patients_get_no_p_values(catalog, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["cohort"]) == 0
    out = capsys.readouterr().out
    assert "too few patients for a test (n = 5; at least 6)" in out
    assert "p=" not in out and "Wilcoxon" not in out and "d_z=" not in out
    assert "S-01" not in out and "DEMO" not in out and "simulated]" not in out
    ref = cohort_shift(PRE[:5], POST[:5])
    assert f"valence: n=5 shift {ref.valence.mean_shift:+.2f} ± {ref.valence.sd_shift:.2f}" in out
    assert main(["cohort", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["include_simulated"] is False and d["group"]["tested"] is False
    assert d["group"]["valence"]["p"] is None and d["group"]["n"] == 5
    assert sorted(e["code"] for e in d["patients"]) == ["R-01", "R-02", "R-03", "R-04", "R-05"]


def test_include_simulated_makes_six_and_labels_them(catalog, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["cohort", "--include-simulated"]) == 0
    out = capsys.readouterr().out
    assert "INCLUDES SIMULATED SESSIONS" in out
    sim_line = next(line for line in out.splitlines() if line.startswith("S-01"))
    assert sim_line.endswith("[simulated]")
    assert "too few patients" not in out and "DEMO" not in out
    ref = cohort_shift(PRE[:6], POST[:6])
    v = ref.valence
    p = "< 0.001" if v.p < 0.001 else f"{v.p:.3f}"
    assert f"paired t={v.t:.2f} p={p}" in out
    assert f"d_z={v.dz:.2f} [95 % CI {v.dz_ci_low:.2f}, {v.dz_ci_high:.2f}]" in out
    assert main(["cohort", "--include-simulated", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["group"]["tested"] is True and d["group"]["n"] == 6
    assert d["group"]["valence"]["dz_ci_low"] == pytest.approx(v.dz_ci_low)
    assert [e["code"] for e in d["patients"] if e["simulated"]] == ["S-01"]
