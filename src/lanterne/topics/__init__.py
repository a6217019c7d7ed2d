"""Content-suppression measurement: topic representation across platforms, and removal over time."""
