"""The one exception type that reaches the user as a single line instead of a traceback."""


class UserError(Exception):
    """A problem the user can fix (bad flag, bad file, bad launch); printed as one line."""
