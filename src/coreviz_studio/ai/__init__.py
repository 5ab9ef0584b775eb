"""Models behind one small interface: what the pipeline and the /api/ai endpoints call.

`types` says what a model gives back; each other module wraps one model and loads it lazily,
once per process; `registry` picks the configured ones.
"""
