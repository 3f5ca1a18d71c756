"""Tables and constraints of the dashboard (SPEC §1–6, §8, §10). No rules live here.

Every "unique" of the spec is a database constraint. Foreign keys carry their
delete behaviour (SPEC §5: deleting a session nulls its risk logs' session,
deleting an enrollment deletes its logs) so deletes need no application loops.

The tables live in one module per area of the academy; everything is imported from here
(`from dashboard.models import Enrollment`), so the modules are a way to read, not to import.
"""
from dashboard.models.base import (  # noqa: F401
    ROLES,
    ATTEMPT_SOURCES,
    ATTENDANCE_TYPES,
    PRESENCE_VALUES,
    INVALID_REASONS,
    RISK_LEVELS,
    RISK_RULES,
    CLINIC_REASONS,
    AUTO_CLINIC_REASONS,
    OMR_STATUSES,
    MAX_ID,
    Timestamped,
    Versioned,
    _in,
)
from dashboard.models.people import (  # noqa: F401
    User,
    TeacherLecture,
    ApiToken,
    UserSession,
    LoginFailure,
    AuditLog,
)
from dashboard.models.academy import (  # noqa: F401
    Lecture,
    LectureSession,
    Student,
    Enrollment,
    Exam,
    ExamSession,
    ExamQuestion,
    Homework,
    Attempt,
    AnswerFact,
    HomeworkSubmission,
    Activity,
    ProgressPolicy,
)
from dashboard.models.derived import (  # noqa: F401
    SessionProgress,
    LectureProgress,
    RiskLog,
    ClinicLink,
    OmrScan,
)
from dashboard.models.clinic import (  # noqa: F401
    CLINIC_ATTENDANCE,
    ACTIVE_BOOKING_SQL,
    ClinicSession,
    ClinicBooking,
    ClinicBookingLink,
)
from dashboard.models.parents import (  # noqa: F401
    GUARDIAN_CHANNELS,
    GUARDIAN_LANGUAGES,
    NOTIFICATION_EVENTS,
    NOTIFICATION_STATES,
    Guardian,
    CounsellingNote,
    NotificationSetting,
    NotificationTemplate,
    RiskNotice,
    Notification,
)
from dashboard.models.reports import (  # noqa: F401
    REPORT_BATCH_STATES,
    ReportBatch,
    ReportComment,
    ReportLink,
)
from dashboard.models.requests import (  # noqa: F401
    IdempotencyKey,
    ApiRateWindow,
)
