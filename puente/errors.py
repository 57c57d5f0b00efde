"""One base exception, one subclass per failure kind.

Each error carries an i18n message key and its arguments; ``str(err)`` renders it in
the current language, and the CLI prints that one line (never a traceback) and exits
with the class's ``exit_code``.
"""

from __future__ import annotations

from typing import Any

# Exit codes of the `puente` command, kept here in one place. Each PuenteError subclass has its
# own ``exit_code`` (1-9 below); these are the codes that no exception class carries.
EXIT_OK = 0
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGINT (128 + 2, the shell convention): the file in progress rolled back
EXIT_BUG = 70  # an unexpected exception (EX_SOFTWARE): always a bug to report


class PuenteError(Exception):
    exit_code = 1

    def __init__(self, key: str, **args: Any) -> None:
        self.key = key
        self.args_ = args
        super().__init__(key)

    def message(self, lang: str | None = None) -> str:
        from puente.i18n import t

        return t(self.key, lang=lang, **self.args_)

    def __str__(self) -> str:
        return self.message()


class UsageError(PuenteError):
    """The user asked for something that does not exist or makes no sense."""

    exit_code = 2


class ConfigError(PuenteError):
    """The node or a profile is missing or malformed."""

    exit_code = 3


class InputError(PuenteError):
    """An input file cannot be read at all (as opposed to bad rows, which are quarantined)."""

    exit_code = 4


class StoreError(PuenteError):
    """The store cannot be opened or written."""

    exit_code = 5


class PolicyError(PuenteError):
    """An agreement forbids the action."""

    exit_code = 6


class BundleError(PuenteError):
    """A bundle failed verification (signature, recipient, sequence, expiry)."""

    exit_code = 7


class ProofError(PuenteError):
    """A Merkle inclusion or consistency proof does not hold or is malformed."""

    exit_code = 8

    def __init__(self, key: str = "proof_invalid", **args: Any) -> None:
        super().__init__(key, **args)


class AuditError(PuenteError):
    """The audit log has been tampered with."""

    exit_code = 9
