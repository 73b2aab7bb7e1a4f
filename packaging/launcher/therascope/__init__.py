"""TheraScope's one top-level package in site-packages.

TheraScope's source is four top-level packages, ``app``, ``core``, ``devices`` and ``resources``
(imported as ``from core.x import y`` everywhere, checked by import-linter and mypy). Installed as
such, those generic names would sit at the top of site-packages, where another distribution's
``app`` or ``core`` overwrites ours (or ours theirs) and the first on ``sys.path`` wins in every
Python program of that environment. So the wheel ships them under the private folder
``therascope/_app/`` (setup.py maps the source folders there), and nothing but ``therascope`` (and
its dist-info) lands at the top of site-packages.

The ``therascope`` command (:func:`therascope.launcher.main`) finds that folder, puts it first on
``sys.path`` and runs ``app.cli.main``: inside TheraScope's own process the names are those of the
source tree, and no other program sees them. An editable install (``pip install -e .``) maps
``therascope._app.app`` … back to the source tree, so the same launcher runs the checkout.
"""
