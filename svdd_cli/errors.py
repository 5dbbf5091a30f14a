"""User-facing errors: the CLI prints their message as one line and exits non-zero, no traceback."""


class UserError(Exception):
    """A mistake the user can fix (bad value, missing file); the message names the value and the fix."""
