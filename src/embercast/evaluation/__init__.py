"""Honest evaluation: metrics, scenario scoring through the live alarm decision, the alarm
operating point, condition folds, the report and sim-to-real on real fire tests."""
