"""Fire detectors with the scikit-learn contract: baselines, tree ensembles, sequence nets, the
stacked ensemble, calibration, compiled scoring, save/load and the detector factory."""
