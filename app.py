"""CDK app entry (`cdk synth`, `cdk deploy`): the auditor stack and the member-account role."""

import sys

import aws_cdk as cdk

from infra.app import build
from ipaudit.errors import InputError

app = cdk.App()
try:
    build(app)
except InputError as error:
    sys.exit(f"ipaudit: {error}")  # one line naming the context key, exit status 1
app.synth()
