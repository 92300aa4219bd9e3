"""The exception type bea raises for bad input, and the warning for results that hold only in part."""


class BeaError(ValueError):
    """Bad input to bea: the message says what is wrong and how to fix it."""


class BeaWarning(UserWarning):
    """Something the user should know about a result that bea still computes."""


class NonSmoothWarning(BeaWarning):
    """The loss has kinks (Abs, Max, Min): the modified equation holds only away from them."""
