"""The Qt GUI (PySide6 + pyqtgraph): windows, screens and views over core objects."""
