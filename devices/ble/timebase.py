"""The host-clock help the BLE drivers use, shared with the other live sources.

It lives in :mod:`devices.timebase` (the Lab Streaming Layer source places its samples with the
same lower envelope); this name stays for the BLE drivers that import it from here.
"""

from devices.timebase import HeldPacket, HeldRun, HostTimebase

__all__ = ["HeldPacket", "HeldRun", "HostTimebase"]
