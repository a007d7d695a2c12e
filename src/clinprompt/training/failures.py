"""A failed run is one line: the innermost cause, not the wrappers around it.

``hydra.utils.instantiate`` wraps an error raised while building an object in ``InstantiationException``
("Error in call to target '...':" followed by the cause), Lightning and our own code may wrap again; the
line that tells a user what to fix is the innermost exception's."""

from __future__ import annotations

from hydra.errors import CompactHydraException


class RunFailed(CompactHydraException):
    """Raised by a failing run after it recorded itself. Hydra prints a ``CompactHydraException`` as its
    message alone, so the console gets one line and error.log the traceback."""


def root_cause(err: BaseException) -> BaseException:
    """The innermost exception of the ``raise ... from`` / during-handling chain, except that one of
    clinprompt's own exception types is kept where it wraps a library's (``ModelUnavailableError`` says
    what to download and where to point ``model.local_path``; the offline hub error below it does not)."""
    seen = {id(err)}
    while True:
        if type(err).__module__.startswith("clinprompt.") and not isinstance(err, RunFailed):
            return err
        nxt = err.__cause__ or (None if err.__suppress_context__ else err.__context__)
        if nxt is None or id(nxt) in seen:
            return err
        seen.add(id(nxt))
        err = nxt
