"""Thermal scene rendering: room geometry, camera projection, objects, fire, people, sun."""
