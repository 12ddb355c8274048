"""Data-quality checks before estimation: declared per table, run with Great Expectations and custom
checks, stored in quality.check_results, and enforced by the gate (`require_checked`)."""
