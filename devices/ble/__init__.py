"""Real BLE bio-sensors: a bleak transport on its own thread and pure decoders per device.

* :mod:`devices.ble.transport` — :class:`BleTransport` (the BLE thread, scanning) and
  :class:`BleLink` (one connection, set-up, automatic reconnection);
* :mod:`devices.ble.sensor` — :class:`BleSensor`, a :class:`~core.recording.sources.BioSensor`;
* drivers (bytes in, samples out, no bleak): :mod:`~devices.ble.polar` (Polar H10),
  :mod:`~devices.ble.bitalino` (PLUX BITalino), :mod:`~devices.ble.open_profile` (TheraScope open
  profile v1, ``resources/protocol/open-profile-v1.md``);
* :mod:`devices.ble.profiles` — recognising a device in a scan and making its driver.

Importing this package does not import bleak; the transport does.
"""

from devices.ble.profiles import PROFILES, identify, make_driver

__all__ = ["PROFILES", "identify", "make_driver"]
