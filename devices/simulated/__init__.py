"""Simulated sensor and camera: the same interfaces and bytes as the real devices, fed by core.simulation."""
