"""One module per report section; each registers itself with ``crmine.report.section``."""
