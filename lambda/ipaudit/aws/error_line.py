"""AWS errors as the one line a coverage entry or the terminal shows."""

from __future__ import annotations

from botocore.exceptions import ClientError


def one_line(error: BaseException) -> str:
    """The operation, AWS's error code and its own message; other errors, squeezed to a line."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        operation = error.operation_name
        return f"{operation}: {info.get('Code', 'Error')}: {info.get('Message', '')}".strip(": ")
    return " ".join(str(error).split()) or type(error).__name__
