"""One error hierarchy. Each error carries CloudStack's HTTP/API error code and CS exception code.

The native and AWS doors map these to their envelopes; stack traces never leave the server.
"""

from __future__ import annotations


class CloudError(Exception):
    """Base error: a message template filled from keyword arguments, plus CloudStack codes."""

    code = 530  # ApiErrorCode
    cs_code = 4250  # CSExceptionErrorCode (CloudRuntimeException)
    msg_fmt = "%(message)s"

    def __init__(self, message: str | None = None, **kwargs) -> None:
        self.kwargs = kwargs
        if message is None:
            message = self.msg_fmt % kwargs
        self.message = message
        super().__init__(message)


class MalformedParameter(CloudError):
    code, cs_code = 430, 9999


class InvalidParameter(CloudError):
    code, cs_code = 431, 4350


class MissingParameter(InvalidParameter):
    msg_fmt = "Unable to execute API command %(command)s due to missing parameter %(param)s"


class Unauthorized(CloudError):
    code, cs_code = 401, 9999
    msg_fmt = "unable to verify user credentials and/or request signature"


class UnknownCommand(Unauthorized):
    msg_fmt = "The given command '%(command)s' either does not exist, is not available for user."


class UnsupportedCommand(CloudError):
    code, cs_code = 432, 9999
    msg_fmt = "The given command:%(command)s does not exist or it is not available for user"


class MethodNotAllowed(CloudError):
    code, cs_code = 405, 9999


class PermissionDenied(CloudError):
    code, cs_code = 531, 4365


class LoginFailed(CloudError):
    code, cs_code = 531, 4290


class AccountLimitExceeded(CloudError):
    code, cs_code = 532, 4280


class InsufficientCapacity(CloudError):
    code, cs_code = 533, 4330


class ResourceUnavailable(CloudError):
    code, cs_code = 534, 4380


class ResourceAllocation(CloudError):
    code, cs_code = 535, 4370


class ResourceInUse(CloudError):
    code, cs_code = 536, 4375


class NetworkRuleConflict(CloudError):
    code, cs_code = 537, 4360


class ConcurrentOperation(CloudError):
    code, cs_code = 530, 4300


class Conflict(ConcurrentOperation):
    """A compare-and-set state transition found the row already moved by someone else."""

    msg_fmt = "%(entity)s %(id)s is in state %(state)s; expected %(expected)s"


class InternalError(CloudError):
    code, cs_code = 530, 4345


class OperationTimedOut(CloudError):
    code, cs_code = 530, 4560
