"""Fire detectors (scikit-learn contract), baselines, evaluation and the model registry."""
