"""The one error a driver raises: its message says what failed and why (it goes back in the answer)."""


class HypervisorError(Exception):
    """A hypervisor operation failed; the message says what and why (it goes back in the answer)."""
