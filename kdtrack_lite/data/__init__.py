"""Synthetic tracking data, degradations and standard-format readers/writers."""
