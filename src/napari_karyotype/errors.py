"""The one exception type users see: its message is a single, clear line."""


class KaryotypeError(ValueError):
    """Bad input or an impossible request; ``str(err)`` is shown to the user as is."""
