"""The one exception type bea raises for bad input."""


class BeaError(ValueError):
    """Bad input to bea: the message says what is wrong and how to fix it."""
