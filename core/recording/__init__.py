"""Recording: crash-safe session storage, the recorder, recovery and read-back."""

from core.recording.reader import SessionData, Signal, open_session

__all__ = ["SessionData", "Signal", "open_session"]
