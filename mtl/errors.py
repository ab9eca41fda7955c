"""The base of every expected failure: bad input, a bad configuration, a missing or tampered file, an
unreachable store, a refused promotion. Each module raises its own subclass with a message that names the file
(and line, where there is one) and the reason; the command line prints it as one `error:` line with exit code 1.
Any other exception is a bug, and the command line says so with its traceback."""


class MtlError(Exception):
    """An expected failure a person can act on; its message says what and where."""
