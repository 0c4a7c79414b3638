"""The domain's errors: services raise them, and each shell maps them to its own answer (the API in
`reviews.api.errors`, pages as form errors, commands as CommandError). No HTTP status lives here."""

from __future__ import annotations


class ApplicationError(Exception):
    """What a user asked for cannot be done; `field` names the input at fault when one is."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(ApplicationError):
    """The input breaks a rule; nothing was written."""


class TooLarge(InvalidInput):
    """The input is over a configured cap."""


class Conflict(ApplicationError):
    """The current state forbids it (an item someone else holds, a run that has ended)."""


class RunInvalid(InvalidInput):
    """A run cannot be created with these parameters; the message names the parameter."""


class QueueInvalid(InvalidInput):
    """A review queue cannot be built as asked."""


class AnnotationInvalid(InvalidInput):
    """An annotation that cannot be stored; `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


class AdjudicationInvalid(InvalidInput):
    """An adjudication that cannot be stored; `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


class ReleaseInvalid(InvalidInput):
    """A release definition that cannot be built (an unknown filter, a missing run); `field` names it."""


class RoundInvalid(InvalidInput):
    """An RFT round that cannot be created or changed as asked (a parent that does not come before it)."""


class UploadRefused(InvalidInput):
    """An upload's body was not accepted (empty, cut short, unreadable); nothing was stored."""


class UploadTooLarge(UploadRefused, TooLarge):
    """An upload's body is over GRM_UPLOAD_MAX_BYTES."""


class StorageUnavailable(ApplicationError):
    """The server cannot write what it was sent (a folder it may not write, a broken disk); nothing was
    stored, and the same request can be sent again once an admin has fixed the folder."""


class StorageFull(StorageUnavailable):
    """No space is left where the server stores it (a full disk, a quota, a file-size limit)."""


class MetaRmInvalid(InvalidInput):
    """A meta RM cannot be trained, registered or used as asked; the message names the input."""
