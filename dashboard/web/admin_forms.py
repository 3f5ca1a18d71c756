"""Flask-WTF forms of the policy editor, the clinic queue and the users page.

CSRF: an unprefixed form on its own page (the policy form, the new-user form) carries its own
token (`{{ form.csrf_token }}`). Prefixed forms (the clinic request form, a memo per clinic row,
the user page's several forms) leave the check to the app-wide CSRFProtect, like
`forms.PageForm`, and their templates carry the plain `csrf_token` input (docs/ui.md explains why).

Policy values: the form only turns text into numbers (an integer field takes whole numbers, the
pass score any decimal); every rule about the values is `validate_policy_change`, the one
validation shared with the API, run by the service.
"""
from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, NumberInput, TextInput

from dashboard.accounts.users import USERNAME_MAX_LENGTH
from dashboard.clinic.links import MEMO_MAX_LENGTH
from dashboard.models import ROLES
from dashboard.errors import Invalid
from dashboard.progress.policy_validation import decimal_from_text
from dashboard.web.forms import PageForm

ROLE_LABELS = {"admin": _l("Admin"), "teacher": _l("Teacher"), "staff": _l("Staff")}
REASON_LABELS = {
    "AUTO_FAILED": _l("Failed session"),
    "AUTO_RISK": _l("Exam risk"),
    "MANUAL_REQUEST": _l("Clinic request"),
    "TEACHER_RECOMMEND": _l("Teacher recommendation"),
}


# ---------------------------------------------------------------- policy

# (group id, legend, fields) in the page's order; the groups of the issue.
POLICY_GROUPS: tuple[tuple[str, Any, tuple[str, ...]], ...] = (
    ("video", _l("Video"), ("video_required_rate",)),
    ("exam", _l("Exam"), ("exam_start_session_order", "exam_end_session_order", "exam_pass_score",
                          "exam_aggregate_strategy", "exam_pass_source")),
    ("homework", _l("Homework"), ("homework_start_session_order", "homework_end_session_order",
                                  "homework_pass_type", "homework_cutline_percent", "homework_round_unit")),
    ("risk", _l("Risk and grace"), ("completion_grace_days", "risk_warning_consecutive",
                                    "risk_danger_consecutive")),
)
INTEGER_FIELDS = (
    "video_required_rate", "exam_start_session_order", "exam_end_session_order",
    "homework_start_session_order", "homework_end_session_order", "homework_cutline_percent",
    "homework_round_unit", "completion_grace_days", "risk_warning_consecutive", "risk_danger_consecutive",
)
DECIMAL_FIELDS = ("exam_pass_score",)
INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


def _integer_field(label: Any, low: int | None = None, high: int | None = None) -> StringField:
    return StringField(label, widget=NumberInput(step=1, min=low, max=high), filters=[_strip])


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


# The policy's options in the academy's words (forms, the policy list, the cell panel); the codes
# stay in the API and the data- attributes.
POLICY_OPTION_WORDS = {
    "exam_aggregate_strategy": {
        "MAX": _l("the best exam counts"),
        "AVG": _l("the average of the exams counts"),
        "LATEST": _l("the latest exam counts"),
    },
    "exam_pass_source": {
        "EXAM": _l("each exam's own pass score (else the policy's)"),
        "POLICY": _l("always the policy's pass score"),
    },
    "homework_pass_type": {
        "SUBMIT": _l("it was submitted"),
        "SCORE": _l("its score reaches the cutline"),
        "TEACHER_APPROVAL": _l("the teacher approved it"),
    },
}


def policy_word(field: str, value: str | None) -> str:
    """A policy option's words (the value itself when it is none of the known ones)."""
    word = POLICY_OPTION_WORDS.get(field, {}).get(value)
    return str(word) if word is not None else (value or "")


def _choices(field: str) -> list[SelectChoice]:
    return [SelectChoice(value, word) for value, word in POLICY_OPTION_WORDS[field].items()]


class PolicyForm(FlaskForm):
    """Every SPEC §2 field, as text; `values()` turns the text into the numbers the validator takes."""

    video_required_rate = _integer_field(_l("Required video rate (%)"), 0, 100)
    exam_start_session_order = _integer_field(_l("Exams count from session"), 1)
    exam_end_session_order = _integer_field(_l("Exams count up to session"), 1)
    exam_pass_score = StringField(_l("Pass score"), widget=TextInput(), filters=[_strip])
    exam_aggregate_strategy = SelectField(_l("Several exams in a session"),
                                          choices=_choices("exam_aggregate_strategy"), validate_choice=False)
    exam_pass_source = SelectField(_l("Pass line"), choices=_choices("exam_pass_source"), validate_choice=False)
    homework_start_session_order = _integer_field(_l("Homework counts from session"), 1)
    homework_end_session_order = _integer_field(_l("Homework counts up to session"), 1)
    homework_pass_type = SelectField(_l("Homework passes when"), choices=_choices("homework_pass_type"),
                                     validate_choice=False)
    homework_cutline_percent = _integer_field(_l("Homework cutline (%)"), 0, 100)
    homework_round_unit = _integer_field(_l("Round the homework percentage to"), 1, 100)
    completion_grace_days = _integer_field(_l("Grace days"), 0, 365)
    risk_warning_consecutive = _integer_field(_l("Warning after"), 1)
    risk_danger_consecutive = _integer_field(_l("Danger after"), 1)
    # The stored policy's version this form was filled from (SPEC §8): a save based on an older
    # one is refused with what changed meanwhile, instead of silently undoing someone's change.
    version = HiddenField()

    def base_version(self) -> int | None:
        """The version the form was filled from (None when the form carries none)."""
        text = (self.version.data or "").strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None

    HELP = {
        "video_required_rate": _l("A session's video part is met at this rate or more, or by attending offline."),
        "exam_start_session_order": _l("Sessions before this order have no exam part."),
        "exam_end_session_order": _l("Sessions after this order have no exam part; 9999 means to the end."),
        "exam_pass_score": _l("Used by POLICY, and for exams without a pass score of their own. At most 2 decimals."),
        "exam_aggregate_strategy": _l("How the exams of one session make one score."),
        "exam_pass_source": _l("Which pass score the exam part is compared with."),
        "homework_start_session_order": _l("Sessions before this order have no homework part."),
        "homework_end_session_order": _l("Sessions after this order have no homework part; 9999 means to the end."),
        "homework_pass_type": _l("What makes one homework pass."),
        "homework_cutline_percent": _l("SCORE only: the rounded percentage a homework needs."),
        "homework_round_unit": _l("SCORE only: the percentage is rounded half-up to a multiple of this."),
        "completion_grace_days": _l("Days after a session's date before it can count as failed."),
        "risk_warning_consecutive": _l("Failed (or low-score) sessions in a row that make a student WARNING."),
        "risk_danger_consecutive": _l("Failed (or low-score) sessions in a row that make a student DANGER; "
                                      "at least the warning count."),
    }

    def values(self) -> dict[str, Any] | None:
        """The fields as numbers and words for `validate_policy_change`; None after putting a
        "not a number" error on each field whose text is none (nothing is validated further then)."""
        change: dict[str, Any] = {}
        for name in (*INTEGER_FIELDS, *DECIMAL_FIELDS):
            field = getattr(self, name)
            text = field.data or ""
            if not text:
                field.errors = [*field.errors, _("A value is required.")]
            elif name in INTEGER_FIELDS:
                if INTEGER_TEXT.fullmatch(text):
                    change[name] = int(text)
                else:
                    field.errors = [*field.errors, _("must be a whole number")]
            else:
                try:
                    number = decimal_from_text(text)
                except Invalid:
                    number = None
                if number is None or not number.is_finite():
                    field.errors = [*field.errors, _("must be a number")]
                else:
                    change[name] = number
        for name in ("exam_aggregate_strategy", "exam_pass_source", "homework_pass_type"):
            change[name] = getattr(self, name).data
        if any(getattr(self, name).errors for name in (*INTEGER_FIELDS, *DECIMAL_FIELDS)):
            return None
        return change

    def add_error(self, name: str, message: str) -> None:
        """Show a validation problem at its field (or above the form for a name that is no field)."""
        field = getattr(self, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, message]
        else:
            self.form_errors.append(message)


# ---------------------------------------------------------------- clinic

class ClinicRequestForm(PageForm):
    """A person's clinic request: a student (enrollment), a session, a reason and a memo.

    Prefixed (`request-`): the queue's filters, sent along so the answer can redraw the queue,
    use the plain names `session` and `reason`.
    """

    enrollment = SelectField(_l("Student"), coerce=str, validate_choice=False)
    session = SelectField(_l("Session"), coerce=str, validate_choice=False)
    reason = SelectField(_l("Reason"), validate_choice=False)
    memo = TextAreaField(_l("Memo"), validators=[Length(max=MEMO_MAX_LENGTH)])

    def ids(self) -> dict[str, Any] | None:
        """The chosen ids as integers (an error at the field for anything else)."""
        chosen: dict[str, Any] = {}
        for name in ("enrollment", "session"):
            field = getattr(self, name)
            text = (field.data or "").strip()
            if not text.isascii() or not text.isdigit():
                field.errors = [*field.errors, _("Choose one.")]
            else:
                chosen[name] = int(text)
        return chosen if len(chosen) == 2 else None


class MemoForm(PageForm):
    """A clinic link's memo (one per row, so prefixed; the page's token is checked by CSRFProtect)."""

    memo = TextAreaField(_l("Memo"), validators=[Length(max=MEMO_MAX_LENGTH)])


# ---------------------------------------------------------------- users

class MultiCheckboxField(SelectMultipleField):
    """Lectures as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(role, ROLE_LABELS[role]) for role in ROLES]


class NewUserForm(FlaskForm):
    """A new account: name, first password, role and (for a teacher) lectures."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=USERNAME_MAX_LENGTH)],
                           filters=[_strip])
    password = PasswordField(_l("Password"), validators=[InputRequired()])
    role = SelectField(_l("Role"), choices=_role_choices)
    lectures = MultiCheckboxField(_l("Lectures (teachers; staff as assistants)"), coerce=int, validate_choice=False)

    def validate_password(self, field) -> None:
        if not (field.data or "").strip():
            raise ValidationError(_("A password is required."))


class RoleForm(PageForm):
    role = SelectField(_l("Role"), choices=_role_choices)


class LecturesForm(PageForm):
    lectures = MultiCheckboxField(_l("Lectures"), coerce=int, validate_choice=False)


class PasswordResetForm(PageForm):
    password = PasswordField(_l("New password"), validators=[InputRequired()])

    def validate_password(self, field) -> None:
        if not (field.data or "").strip():
            raise ValidationError(_("A password is required."))
