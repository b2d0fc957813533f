"""Agents: monitoring, analysis, the alarm state machine, response, learning."""
