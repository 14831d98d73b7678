"""The error raised for bad input data or declarations."""


class DataError(ValueError):
    """Bad data or a bad task declaration. The message names the task, the file or
    column, and what to do about it."""
