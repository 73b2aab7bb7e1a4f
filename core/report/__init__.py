"""The PDF reports: the session report (data gathered from the catalog, flowables, charts and the
document; :mod:`core.report.session`) and the course report of a patient's sessions
(:mod:`core.report.course`)."""
