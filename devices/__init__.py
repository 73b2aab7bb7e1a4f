"""Devices: bio-sensors, cameras and their simulated twins. No Qt here (enforced by tests)."""
