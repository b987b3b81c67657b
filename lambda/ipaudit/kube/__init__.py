"""The Kubernetes side of the audit: the EKS IAM token and one cluster's API view."""
