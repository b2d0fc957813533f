"""The dataset and feature-table contracts: table schemas, manifests and format versions, the
content hash, staged resumable parts and validation. One place for each constant; the generator
writes datasets and the feature builder writes feature sets through them."""
