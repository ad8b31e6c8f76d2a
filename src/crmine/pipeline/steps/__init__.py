"""One module per analysis step; each registers itself with ``crmine.pipeline.step``."""
