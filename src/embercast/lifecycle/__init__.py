"""The model lifecycle: training, tuning, the registry and its promotion gate, batch prediction,
the pipeline, and :func:`~embercast.lifecycle.detectors.load_detector`, which turns any detector
reference (a baseline, a registry reference or a model file) into a detector."""
