"""Running an audit: collect every target (I/O), then hand plain data to the analysis."""

from ipaudit.audit.run import run_audit

__all__ = ["run_audit"]
