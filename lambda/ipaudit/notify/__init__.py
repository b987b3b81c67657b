"""Where alert changes go: one Slack message per run, one SNS message per change."""
