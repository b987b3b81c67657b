"""A model of the AWS VPC CNI's warm pool (ipamd), pure: no AWS or Kubernetes calls."""

from ipaudit.cni.cni_settings import CniSettings
from ipaudit.cni.simulator import (
    SimulationResult,
    StepResult,
    simulate,
    startup_holding,
    startup_ips_held,
)

__all__ = [
    "CniSettings",
    "SimulationResult",
    "StepResult",
    "simulate",
    "startup_holding",
    "startup_ips_held",
]
