"""The audit fanned out on Step Functions, for organizations that outgrow one invocation.

list targets -> Distributed Map over batches of targets (audit each batch) -> aggregate. The
batches run the CLI's own collection and analysis (`ipaudit.audit`, `ipaudit.analysis`); the
aggregate runs the single-function audit's pipeline (`ipaudit.pipeline.after_audit`). docs/deploy.md
describes the state machine.
"""
