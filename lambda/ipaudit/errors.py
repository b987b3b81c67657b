"""The one exception family the CLI and the handlers turn into a single line and exit 1."""


class InputError(ValueError):
    """Bad input (a setting, a scenario, a flag): the message is one line naming the field."""
