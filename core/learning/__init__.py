"""Learning the BMMN family: datasets (AMIGOS, TheraScope sessions), training, cross-validation, the demo model."""
