"""What can make a catalog file unusable, in words for the user."""

from __future__ import annotations


class CatalogError(RuntimeError):
    """The catalog file cannot be used; the message is meant for the user."""


class CatalogVersionError(CatalogError):
    """The catalog was written by a newer TheraScope (a schema this version does not know)."""


class CatalogFormatError(CatalogError):
    """The file is not a TheraScope catalog (not SQLite, damaged, or another program's)."""


class CatalogLockedError(CatalogError):
    """The catalog is encrypted and its data folder is not unlocked in this process (nobody has
    signed in)."""

    expected = True


class CatalogKeyError(CatalogFormatError):
    """The catalog is encrypted and the data folder's key does not open it: it belongs to
    another data folder's key store, or it is damaged."""


class CatalogEncryptionError(CatalogError):
    """A plaintext catalog could not be encrypted; it was left as it was."""
