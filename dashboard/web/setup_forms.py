"""Flask-WTF forms of the setup pages (lectures, sessions, students, enrollments).

The forms only turn text into values (whole numbers, dates, weekday sets); every rule about the
values — lengths, order ranges, unique orders, one enrollment per student and lecture — is
checked by `dashboard.academy.structure` and the snapshot importer behind it, and their refusals are shown at
the field by `dashboard.web.forms.show_refusal`.

CSRF: every form here leaves the check to the app-wide CSRFProtect (`PageForm`), and the
templates put the plain `csrf_token` input in each form (several forms share a page, some
prefixed; docs/ui.md explains why).
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, DateInput, ListWidget, NumberInput

from dashboard.web.forms import PageForm

WEEKDAY_LABELS = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SEPARATORS = re.compile(r"[\s,;]+")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def parse_date_text(text: str | None) -> date | None:
    """YYYY-MM-DD (blank: None); anything else raises ValueError with the reader's message."""
    text = (text or "").strip()
    if not text:
        return None
    if not _DATE.fullmatch(text):
        raise ValueError(_("A date is written YYYY-MM-DD."))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(_("This date does not exist.")) from None


def parse_whole_text(text: str | None) -> int | None:
    """A whole number (blank: None)."""
    text = (text or "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ValueError(_("A whole number is required."))
    return int(text)


def _parsed(parse, required: bool = False):
    """A validator storing the parsed value on `field.parsed` (an error at the field otherwise)."""

    def validate(form, field) -> None:
        try:
            field.parsed = parse(field.data)
        except ValueError as refused:
            field.parsed = None
            raise ValidationError(str(refused)) from None
        if required and field.parsed is None:
            raise ValidationError(_("A value is required."))

    return validate


class MultiCheckboxField(SelectMultipleField):
    """Choices as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LectureForm(PageForm):
    """A lecture's title and its teachers."""

    title = StringField(_l("Title"), filters=[_strip])
    teachers = MultiCheckboxField(_l("Teachers"), coerce=int, validate_choice=False)


class SessionForm(PageForm):
    """One session: order (blank when adding: after the last one), title and date."""

    order = StringField(_l("Order"), widget=NumberInput(step=1, min=1, max=9999),
                        validators=[_parsed(parse_whole_text)])
    title = StringField(_l("Title"), filters=[_strip])
    date = StringField(_l("Date"), widget=DateInput(), validators=[_parsed(parse_date_text)])


def parse_holidays(text: str | None) -> list[date]:
    """Dates separated by spaces, commas or new lines."""
    dates = []
    for word in _SEPARATORS.split((text or "").strip()):
        if word:
            parsed = parse_date_text(word)
            if parsed is not None:
                dates.append(parsed)
    return dates


class TermForm(PageForm):
    """Generate a term: `count` sessions from `start` on the chosen weekdays, skipping holidays."""

    start = StringField(_l("First day"), widget=DateInput(), validators=[_parsed(parse_date_text, required=True)])
    count = StringField(_l("Number of sessions"), widget=NumberInput(step=1, min=1, max=200),
                        validators=[_parsed(parse_whole_text, required=True)])
    weekdays = MultiCheckboxField(_l("Weekdays"), coerce=int,
                                  choices=[SelectChoice(i, label) for i, label in enumerate(WEEKDAY_LABELS)])
    holidays = TextAreaField(_l("Holidays (YYYY-MM-DD, one per line or separated by commas)"),
                             validators=[_parsed(parse_holidays)])
    title_prefix = StringField(_l("Title prefix (e.g. Week)"), filters=[_strip])

    def validate_weekdays(self, field) -> None:
        if not field.data:
            raise ValidationError(_("Choose at least one weekday."))


class JoinsOnForm(PageForm):
    """When an enrolled student starts to count: a date (offered: today once sessions were held,
    structure.default_start_date), or from the first session for someone entering past records."""

    start_date = StringField(_l("Joins on (optional)"), widget=DateInput(), validators=[_parsed(parse_date_text)])
    from_first = BooleanField(_l("From the first session (entering past records)"))

    def start(self) -> date | None:
        """The chosen start date: none when the past sessions count too."""
        return None if self.from_first.data else self.start_date.parsed


class StudentForm(JoinsOnForm):
    """A student's name and optional contact; the start date only when enrolling at once. Guardians
    are kept on the student's page (the parents' area), not in this form."""

    name = StringField(_l("Name"), filters=[_strip])
    contact = StringField(_l("Contact"), filters=[_strip])


class EnrollForm(JoinsOnForm):
    """Enroll an existing student (chosen in the search), from a start date or the first session."""

    student = StringField(_l("Student"), validators=[_parsed(parse_whole_text, required=True)])
