"""Simulation without devices: scenarios on the circumplex, simulated physiology and a rendered face."""
