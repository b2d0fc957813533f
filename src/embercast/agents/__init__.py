"""The agents of the live system: small classes with one job each, talking over the bus
(:mod:`embercast.bus`). Response: zone events to notifications."""
