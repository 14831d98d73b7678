"""The error raised when a transfer cannot be done as configured."""


class TransferError(ValueError):
    """A source checkpoint, tokenizer or encoder that does not fit the new run. The
    message names the file or setting and what to do about it."""
