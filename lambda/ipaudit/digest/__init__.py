"""The weekly summary e-mail, built from the stored history."""

from ipaudit.digest.mailing import Digest, weekly_digest

__all__ = ["Digest", "weekly_digest"]
