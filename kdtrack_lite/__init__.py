"""kdtrack_lite: knowledge distillation for object trackers, taught step by step."""

__version__ = "0.1.0"
