"""The folder that holds ``app``, ``core``, ``devices`` and ``resources`` in the wheel.

Never imported by those names (``therascope._app.core``): :mod:`therascope.launcher` puts this
folder on ``sys.path`` and TheraScope imports ``core`` as in the source tree.
"""
