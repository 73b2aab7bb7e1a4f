"""TheraScope core: signals, storage, analysis and reports. No Qt here (enforced by tests).

Heavy libraries (cv2, neurokit2, reportlab, torch) are imported inside the functions that need
them so that ``import core`` stays fast.
"""

__version__ = "0.1.0"
__license__ = "GPL-3.0-or-later"  # as in pyproject.toml
