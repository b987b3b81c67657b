"""Renderers: the report (and the changes, the week) as people and tools read them: text,
CSV, OpenMetrics, Slack blocks, Security Hub findings, the digest's HTML and text. Pure."""
