"""Flask-WTF forms of the lecture pages.

CSRF: the app-wide CSRFProtect checks every POST before a view runs (the token comes from the
form's hidden `csrf_token` input, or from htmx's `X-CSRFToken` header). These forms carry a
prefix (a cell shows several forms with the same fields), and a per-form token would then be
named `prefix-csrf_token`, which CSRFProtect does not read: so the forms leave the check to
CSRFProtect and the templates put the plain `csrf_token` input in each form.

Every value is parsed by the same function the service uses (dashboard/lectures/cells.py), so a form
accepts exactly what the service accepts: a form validator stores the parsed value on the field
as `field.parsed`, and the view hands those values to the service.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError
from wtforms.widgets import DateTimeLocalInput, NumberInput, TextInput

from dashboard.errors import Invalid, Refused, describe
from dashboard.lectures import cells as inputs


class Parsed:
    """A validator running one of the service's parsers; the parsed value lands on `field.parsed`."""

    def __init__(self, parse: Callable[[Any], Any]) -> None:
        self.parse = parse

    def __call__(self, form: FlaskForm, field) -> None:
        try:
            field.parsed = self.parse(field.data)
        except Invalid as refused:
            field.parsed = None
            raise ValidationError(describe(refused)) from None


class PageForm(FlaskForm):
    """A form whose CSRF token is checked by the app-wide CSRFProtect (module docstring)."""

    class Meta:
        csrf = False


def show_refusal(form: FlaskForm, refused: Refused) -> None:
    """Put a service's refusal on the form: each of its problems (the error and those `all_of`
    joined to it) at the field it names, in the reader's language, or above the form when it names
    none of the form's fields."""
    for problem in (refused, *refused.also):
        target = getattr(form, problem.field, None) if problem.field else None
        if target is not None and hasattr(target, "errors"):
            target.errors = [*target.errors, describe(problem)]
        else:
            form.form_errors.append(describe(problem))


def form_change(form: FlaskForm, change: Callable[[], Any], again: Callable[[], Any],
                done: Callable[[Any], Any]) -> Any:
    """Validate a posted form, make the service's change and answer `done(its result)`; when the form
    is invalid or the service refuses the change with `Invalid` (its problems shown on the form by
    `show_refusal`), answer `again()`: the page with the form, 422."""
    if not form.validate():
        return again()
    try:
        result = change()
    except Invalid as refused:
        show_refusal(form, refused)
        return again()
    return done(result)


def refusal_text(refused: Refused) -> str:
    """Every problem of a refusal in one line, for a page that shows it without a form."""
    return " ".join(describe(problem) for problem in (refused, *refused.also))


class VersionedForm(PageForm):
    """A cell-panel form that carries the version of the stored values it was filled from
    (cells.input_version): a save based on an older one is refused with what changed meanwhile."""

    version = HiddenField()
    # Set by the view on a refused stale save: the rows of "saved meanwhile / yours".
    meanwhile: list | None = None

    def base_version(self) -> str | None:
        """The version posted with the form (None when the form carries none: it applies)."""
        text = (self.version.data or "").strip()
        return text[:64] or None


PRESENCE_CHOICES = [SelectChoice("", _l("Not taken")), SelectChoice("present", _l("Present")),
                    SelectChoice("late", _l("Late")), SelectChoice("absent", _l("Absent")),
                    SelectChoice("excused", _l("Excused"))]


class ActivityForm(VersionedForm):
    """Attendance, video rate and roll call of one enrollment in one session."""

    # Not posted at all (an older form, a script): the stored roll call stays (the view checks raw_data).
    presence = SelectField(_l("Roll call"), choices=PRESENCE_CHOICES, validate_choice=False,
                           validators=[Parsed(lambda value: inputs.parse_presence(value or None))])

    attendance = SelectField(_l("Attendance"),
                             choices=[SelectChoice("online", _l("Online")), SelectChoice("offline", _l("Offline"))],
                             validators=[Parsed(inputs.parse_attendance)])
    video_rate = StringField(_l("Video rate (%)"), widget=NumberInput(step=1, min=0, max=100),
                             validators=[Parsed(inputs.parse_video_rate)])


class HomeworkSubmissionForm(VersionedForm):
    """One homework's submission: submitted, score (blank: none), teacher approval."""

    submitted = BooleanField(_l("Submitted"))
    score = StringField(_l("Score"), widget=TextInput())
    approved = BooleanField(_l("Approved by the teacher"))

    def __init__(self, *args: Any, max_score: Decimal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_score = max_score

    def validate_score(self, field) -> None:
        try:
            value = inputs.parse_score_text(field.data, "score", required=False)
            field.parsed = None if value is None else inputs.check_score(value, self.max_score)
        except Invalid as refused:
            raise ValidationError(describe(refused)) from None


class AttemptForm(VersionedForm):
    """A new or edited exam attempt: score and, optionally, when it was submitted."""

    score = StringField(_l("Score"), widget=TextInput())
    submitted_at = StringField(_l("Submitted at"), widget=DateTimeLocalInput(),
                               validators=[Parsed(inputs.parse_time_text)])

    def __init__(self, *args: Any, max_score: Decimal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_score = max_score

    def validate_score(self, field) -> None:
        try:
            field.parsed = inputs.check_score(inputs.parse_score_text(field.data), self.max_score)
        except Invalid as refused:
            raise ValidationError(describe(refused)) from None


class DeleteAttemptForm(VersionedForm):
    """The button that deletes an attempt, based on the score and time shown next to it."""
