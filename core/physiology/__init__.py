"""Physiology from ECG and EDA: signal features (heart rate, RMSSD, EDA level, SCRs) and per-phase summaries."""
