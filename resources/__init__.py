"""The files TheraScope ships (package data; nothing here is code).

``fonts/`` the PDF report's fonts and their licences, ``models/`` the demo model and the MTCNN
face weights, ``protocol/`` the stream-format and open-profile documents, ``screenshots/``.
Code finds them with :func:`core.resources.resource_path`, never by a path relative to a module.
"""
