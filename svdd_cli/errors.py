"""User-facing errors: the CLI prints their message as one line and exits non-zero, no traceback."""


class UserError(Exception):
    """A mistake the user can fix (bad value, missing file); the message names the value and the fix."""


class OracleError(Exception):
    """An oracle failed on a whole batch (a program exited non-zero, a service is down): retrying sample by sample
    would not help. The batch's rewards are invalid; a run stops when every value of a batch is invalid."""


class RewardFailed(UserError):
    """A reward call cannot go on (every value invalid, past its timeout, the wrong shape): the run stops, in one
    line, keeping its finished batches."""


class ModelFailed(UserError):
    """The network cannot go on (out of memory at max_batch=1, NaN/inf outputs): the run stops in one line,
    keeping its finished batches."""
