"""Run history and alert state in one DynamoDB table (layout: docs/alerts.md)."""
