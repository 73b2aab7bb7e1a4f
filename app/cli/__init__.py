"""The ``therascope`` command line. No Qt: the GUI is imported only when the ``gui`` command runs."""
