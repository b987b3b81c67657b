"""aws-node settings that give addresses back, proven with the CNI model (pure)."""

from ipaudit.recommend.recommender import recommend

__all__ = ["recommend"]
