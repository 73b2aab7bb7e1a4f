import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the analysis runs torch on the CPU in the suite (the reference); the optimised runtime's
# tests (tests/core/inference) turn it back on: exporting every test checkpoint would take minutes
os.environ.setdefault("THERASCOPE_CPU_RUNTIME", "torch")
