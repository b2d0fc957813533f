"""embercast: fire prediction from a thermal camera, a CO2 sensor and physics-based synthetic
data."""

__version__ = "0.1.0"
