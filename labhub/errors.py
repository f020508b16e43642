"""Errors that are the user's to fix, printed as one line by the CLI."""


class UserError(Exception):
    """A problem in the user's input (config, flags, files): the message names it and how to fix it."""
