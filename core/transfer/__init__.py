"""Sessions in and out of TheraScope: export to files other tools read (CSV, EDF+/BDF+) and the
import of recordings made elsewhere, over :mod:`core.formats` (which knows nothing of sessions)."""
