"""Every model module, imported once so the metadata (migrations, test clean-up) knows all tables."""
from network.accounts.models import ApiToken, User  # noqa: F401
from network.admin.models import AuditEntry, Suggestion  # noqa: F401
from network.directory.models import Kind, Organisation, Partner, Region, Topic  # noqa: F401
from network.scheduling.models import Absence, SchedulingProfile, Visit, WorkingHours  # noqa: F401
