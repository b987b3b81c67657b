"""The embedded simulated AWS and Kubernetes that `ipaudit demo` and the tests run against.

Development only: moto is imported lazily and is never part of the Lambda bundle.
"""
