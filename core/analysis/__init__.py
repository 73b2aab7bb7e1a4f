"""Session analysis: recorded session → per-frame emotion estimates (see :mod:`.engine`)."""
