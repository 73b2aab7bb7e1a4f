"""The PDF session report: data gathered from the catalog, flowables, charts and the document."""
