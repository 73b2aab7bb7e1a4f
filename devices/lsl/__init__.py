"""Lab Streaming Layer: record ECG/EDA from any LSL outlet (OpenSignals…) and publish markers.

* :mod:`devices.lsl.config` — the LSL configuration (machine-only unless widened in Settings),
  applied before pylsl loads; every use of pylsl goes through :func:`~devices.lsl.config.load_pylsl`;
* :mod:`devices.lsl.channels` — which columns are ECG, EDA and the sample counter, in which units;
* :mod:`devices.lsl.aligner` — counters from the counter channel or the time stamps (lower envelope);
* :mod:`devices.lsl.sensor` — :class:`~devices.lsl.sensor.LslSensor`, a
  :class:`~core.recording.sources.BioSensor`, and :func:`~devices.lsl.sensor.find_streams`;
* :mod:`devices.lsl.markers` — the session's markers as an LSL stream.

Importing this package does not import pylsl.
"""
