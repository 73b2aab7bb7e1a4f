"""Faces in video: detection (Haar cascade or ONNX), tracking between detections, and crops."""
