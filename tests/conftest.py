import os

os.environ.setdefault("KDTRACK_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
