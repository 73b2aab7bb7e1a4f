"""Training and evaluation data for the emotion model (AMIGOS and its synthetic stand-in).

No Qt and no torch here; scipy and cv2 are imported inside the functions that need them so that
``import core.learning.datasets`` stays light.
"""
