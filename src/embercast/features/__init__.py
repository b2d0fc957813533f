"""Features: streaming extractors (``update``/``get``) and the feature sets built from them.

The offline feature table is made by folding the same extractor objects over recorded streams,
so training and serving share one code path.
"""
