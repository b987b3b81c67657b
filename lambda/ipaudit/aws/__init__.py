"""The AWS edge: sessions per target and the collectors that read EKS and EC2 into snapshot data.

Everything here takes clients the caller created (`session.client(name, config=client_config())`)
and returns plain `ipaudit.snapshot` data, so nothing past the collectors touches boto3.
"""
