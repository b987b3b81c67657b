"""The embedded simulated AWS and Kubernetes that `ipaudit demo` and the tests run against.

Its own package beside `ipaudit` (installed with it; moto comes with the `demo` extra), never in
the Lambda asset: the function's code cannot import it. moto is imported lazily.
"""
