"""Demo workflows above core and devices: the demo patient, simulated sessions, the demo model. No Qt."""
