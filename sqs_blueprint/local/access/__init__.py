"""The local cloud's IAM check: every call attributed to a principal and evaluated
with the deployed identity and resource policies by an IAM policy simulator
(:mod:`.control`)."""

from sqs_blueprint.local.access.control import MODES, AccessControl, credentials, mode_from
from sqs_blueprint.local.access.usage import AccessReport, Denial

__all__ = ["MODES", "AccessControl", "AccessReport", "Denial", "credentials", "mode_from"]
