"""The user's mistakes as one kind of exception, and the guard that prints them as one line on a command line.

A :class:`UserError` is a problem with what was passed in (a value, a path, a file, a folder that holds a
run made with other settings), not a bug in aelib. Each module's own error classes (``ConfigError``,
``AudioError``, ``ManifestError``, ``RunExistsError``, ...) derive from it as well as from the built-in
class they always had, so ``except ValueError`` keeps working. Every command line is wrapped by
:func:`guard`: a ``UserError`` (or a missing path, ``FileNotFoundError``) is printed as one
``error: <message>`` line on stderr with exit status 2; any other exception keeps its traceback, because
it is a bug to report.
"""
from __future__ import annotations

import functools
import sys
from typing import Callable

#: exit status of a command line for a user's mistake (argparse uses the same for a bad flag)
USAGE_EXIT = 2


class UserError(Exception):
    """A mistake in the input: the message names what is wrong and what is allowed or how to fix it."""


#: what :func:`guard` prints as one line: the user's mistakes and paths that are not there
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, FileNotFoundError, NotADirectoryError,
                                                IsADirectoryError)


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (a multi-line message joined with ``"; "``)."""
    lines = [s.strip() for s in str(exc).splitlines() if s.strip()]
    return "; ".join(lines) or type(exc).__name__


def guard(main: Callable[..., object]) -> Callable[..., int]:
    """Wrap a command line's ``main`` so that a user's mistake ends in one ``error:`` line and exit status 2.

    The wrapped function returns an exit status: ``main``'s own when it returns an int, else 0.
    """

    @functools.wraps(main)
    def wrapped(*args: object, **kwargs: object) -> int:
        try:
            rc = main(*args, **kwargs)
        except USER_ERRORS as exc:
            print(f"error: {one_line(exc)}", file=sys.stderr)
            return USAGE_EXIT
        return rc if isinstance(rc, int) and not isinstance(rc, bool) else 0

    return wrapped
