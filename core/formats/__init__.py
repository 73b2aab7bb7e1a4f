"""Recordings made by other tools, read and written: OpenSignals (.txt, .h5), EDF/EDF+/BDF/BDF+ and
XDF, all into one plain description (:mod:`core.formats.model`) in physical units, with no
knowledge of sessions or the catalog (that is :mod:`core.transfer`)."""
