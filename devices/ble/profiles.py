"""Known BLE sensor profiles: how to recognise them in a scan and which driver decodes them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from devices.ble.driver import SensorDriver


@dataclass(frozen=True)
class Profile:
    """A kind of sensor TheraScope can record from.

    Parameters
    ----------
    key : str — profile key stored with sessions
    title : str — name shown to the user
    service_uuids : tuple of str — advertised services that identify it (128-bit, lower case)
    name_prefixes : tuple of str — advertised name prefixes that identify it
    """

    key: str
    title: str
    service_uuids: tuple[str, ...]
    name_prefixes: tuple[str, ...]

    def matches(self, name: str | None, uuids: Sequence[str]) -> bool:
        if any(u.lower() in self.service_uuids for u in uuids):
            return True
        return bool(name) and any(str(name).startswith(p) for p in self.name_prefixes)


# the UUIDs are repeated here (not imported) so that scanning needs no driver module
PROFILES: tuple[Profile, ...] = (
    Profile(
        "therascope_open_v1",
        "TheraScope open profile v1",
        ("5a3e0001-7c2b-4f4e-9a61-0d8e5b7c3f20",),
        ("TheraScope",),
    ),
    Profile(
        "polar_h10",
        "Polar H10",
        ("fb005c80-02e7-f387-1cad-8acd2d8df0c8",),
        ("Polar H10",),
    ),
    Profile(
        "bitalino",
        "PLUX BITalino (r)evolution",
        ("c566488a-0882-4e1b-a6d0-0b717e652234",),
        ("BITalino",),
    ),
)


def identify(name: str | None, uuids: Sequence[str]) -> str | None:
    """The key of the profile an advertisement (name, service UUIDs) matches, or None."""
    for p in PROFILES:
        if p.matches(name, uuids):
            return p.key
    return None


def make_driver(profile: str, **options: Any) -> SensorDriver:
    """A new driver for ``profile`` (options go to its constructor)."""
    from devices.ble.bitalino import BitalinoDriver
    from devices.ble.open_profile import OpenProfileDriver
    from devices.ble.polar import PolarH10Driver

    factories: dict[str, Callable[..., SensorDriver]] = {
        "polar_h10": PolarH10Driver,
        "bitalino": BitalinoDriver,
        "therascope_open_v1": OpenProfileDriver,
    }
    if profile not in factories:
        raise ValueError(f"unknown BLE sensor profile {profile!r}")
    return factories[profile](**options)
