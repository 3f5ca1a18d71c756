"""One error type for every refusal, with a code, a field and parameters.

A service refuses a request by raising one of `Invalid`, `Forbidden`, `NotFound` or
`Conflict` with a *reason*: a short code such as ``"score_above_max"`` that names the problem,
the *field* it concerns (``"score"``, ``"rows[3].presence"``) and the *parameters* its text
needs (``max=100``). Nobody matches message text: the JSON API answers the error's `kind`
(SPEC §8: ``validation``, ``forbidden``, ``not_found``, ``conflict``) with its status, and the
pages show `describe(error)`, the reason's text in the reader's language.

Every reason has its text in `TEXTS`; raising an error with a reason that has none fails at
once (and a test checks every reason raised in the code base has a text).
"""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

# reason -> text with {placeholders} filled from the error's parameters.
TEXTS: dict[str, Any] = {
    # generic
    "not_found": _l("Not found."),
    "forbidden": _l("Your role may not do this."),
    "required": _l("This field is required."),
    "not_integer": _l("Enter a whole number."),
    "not_number": _l("Enter a number."),
    "not_boolean": _l("Enter true or false."),
    "not_text": _l("Enter text."),
    "not_list": _l("Enter a list."),
    "not_object": _l("Enter an object."),
    "too_long": _l("At most {max} characters."),
    "out_of_range": _l("Must be between {min} and {max}."),
    "too_small": _l("Must be at least {min}."),
    "too_large": _l("Must be at most {max}."),
    "too_many_decimals": _l("At most 2 decimal places."),
    "not_a_choice": _l("Choose one of: {choices}."),
    "unknown_field": _l("Unknown field."),
    "read_only": _l("This field cannot be changed."),
    "unknown_reference": _l("No {kind} with id {id}."),
    "alias_conflict": _l("Give {name} or {alias}, not both with different values."),
    "not_in_lecture": _l("This {kind} does not belong to the lecture."),
    "bad_date": _l("Enter a date as YYYY-MM-DD."),
    "bad_time": _l("Enter a date and time (ISO 8601)."),
    "stale_version": _l("Someone else changed this meanwhile; reload to see their change, or save again to overwrite it."),
    "already_used": _l("This request was already made; nothing was done again."),
    # numbers as they are typed or sent, and policies (SPEC §2); the words follow the field's name
    "score_not_number": _l("must be a number"),
    "score_not_finite": _l("must be a finite number"),
    "score_too_large": _l("is too large"),
    "score_decimals": _l("must have at most 2 decimal places"),
    "not_whole_number": _l("must be an integer"),
    "at_least": _l("must be at least %(n)s"),
    "at_most": _l("must be at most %(n)s"),
    "one_of": _l("must be one of %(choices)s"),
    "null": _l("cannot be null"),
    "read_only_field": _l("is read-only"),
    "not_policy_field": _l("is not a policy field"),
    "at_least_field": _l("must be at least %(other)s (%(value)s)"),
    "at_most_field": _l("must be at most %(other)s (%(value)s)"),
    # cell inputs
    "is_required": _l("is required"),
    "video_rate_whole": _l("must be a whole number from 0 to 100"),
    "video_rate_range": _l("must be from 0 to 100"),
    "attendance_choice": _l("must be online or offline"),
    "presence_choice": _l("must be present, late, absent or excused"),
    "presence_contradicts": _l("contradicts the attendance: present and late mean offline, absent and excused online"),
    "time_text": _l("must be a date and time such as 2026-03-09T10:00"),
    "time_without_zone": _l("must be a date and time with its timezone"),
    "true_or_false": _l("must be true or false"),
    "enrollment_withdrawn": _l("the student has withdrawn from this lecture; their record is frozen"),
    "inputs_forbidden": _l("only an admin or the lecture's teacher may change its inputs"),
    # scores
    "score_above_max": _l("The score must be at most {max}."),
    "score_negative": _l("The score must not be negative."),
    # clinic sessions and bookings (SPEC §13)
    "clinic_unknown_user": _l("No user named {username}."),
    "clinic_ends_before_start": _l("The clinic must end after it starts."),
    "clinic_session_cancelled": _l("This clinic session is cancelled."),
    "clinic_capacity_below_booked": _l("{booked} students are booked; the capacity cannot be lower."),
    "clinic_lecture_has_other_bookings": _l("Students of another lecture are booked in this clinic session."),
    "clinic_student_overlap": _l("The student already has a clinic at an overlapping time."),
    "clinic_enrollment_withdrawn": _l("This student has withdrawn from the lecture."),
    "clinic_link_not_open": _l("Clinic link {id} is not an open link of this student."),
    "clinic_already_booked": _l("The student is already booked in this clinic session."),
    "clinic_session_full": _l("This clinic session is full ({capacity} seats)."),
    "clinic_link_already_booked": _l("Clinic link {id} is already booked in another clinic session."),
    "clinic_booking_cancelled": _l("This booking is cancelled."),
    "clinic_booking_no_show": _l("This booking was marked no-show; book the student again instead."),
    # clinic links
    "no_clinic_link": _l("No such clinic link."),
    "not_an_id": _l("{name} must be an integer id."),
    "name_required": _l("{name} is required."),
    "memo_not_text": _l("memo must be text."),
    "memo_too_long": _l("memo must be at most {max} characters."),
    "clinic_reason_forbidden": _l("Your role may not request a clinic with reason {choice}."),
    "clinic_request_forbidden": _l("Your role may not request clinics."),
    "enrollment_not_taught": _l("That enrollment belongs to a lecture you do not teach."),
    "session_not_taught": _l("That session belongs to a lecture you do not teach."),
    "clinic_request_field": _l("{name} cannot be set when requesting a clinic."),
    "clinic_manual_reason": _l(
        "reason must be MANUAL_REQUEST or TEACHER_RECOMMEND (automatic links are made by the recompute)."),
    "no_enrollment": _l("There is no enrollment {id}."),
    "no_session": _l("There is no session {id}."),
    "clinic_action_forbidden": _l("Only admins and staff may {action} clinic links."),
    "clinic_memo_forbidden": _l("Your role may not edit clinic memos."),
    "clinic_memo_only": _l("Only the memo of a clinic link can be edited; {name} cannot."),
    # OMR scans and the worker's payload
    "no_omr_scan": _l("No such OMR scan."),
    "omr_register_forbidden": _l("Only admins and staff register OMR scans."),
    "omr_result_forbidden": _l("Only admins and staff (the OMR worker) post OMR results."),
    "omr_assign_forbidden": _l("Your role may not assign OMR scans."),
    "omr_correct_forbidden": _l("Your role may not correct OMR scans."),
    "enrollment_id_withdrawn": _l("Enrollment {id} is withdrawn."),
    "enrollment_not_sitting": _l("Enrollment {id} is not in a lecture this exam is linked to."),
    "body_not_object": _l("The body must be a JSON object."),
    "omr_register_field": _l("{name} cannot be set when registering a scan."),
    "no_exam": _l("There is no exam {id}."),
    "exam_without_key": _l("The exam has no answer key, so a scan of it cannot be graded."),
    "key_above_max": _l("The answer key's points add up to more than the exam's max score."),
    "exam_without_session": _l("The exam is linked to no session, so no enrollment can sit it."),
    "scan_corrected": _l("A person corrected this scan; a new result would overwrite their corrections."),
    "graded_scan_student": _l(
        "The scan is graded for enrollment {id}; a new result cannot change its student to {named}."),
    "graded_scan_cannot_fail": _l("The scan is graded: it cannot fail. Correct its answers instead."),
    "omr_assign_field": _l("{name} cannot be set when assigning a scan; send enrollment_id."),
    "scan_already_graded": _l("The scan is already graded for enrollment {id}."),
    "scan_no_result": _l("A {status} scan has no result to assign; wait for the worker's result."),
    "scan_other_lectures": _l("This scan may belong to a lecture you do not teach; its student must be "
                              "assigned first, or someone who teaches every lecture of the exam must correct it."),
    "scan_no_answers": _l("A {status} scan has no answers to correct."),
    "enrollment_gone": _l("Enrollment {id} is withdrawn or gone; assign another student."),
    "key_score_above_max": _l("The answer key's points give {score}, more than the exam's max score {max}; "
                              "fix the key first."),
    "scan_score_above_max": _l("The answer key's points give {score} on scan {scan}, more than the exam's "
                               "max score {max}."),
    "exam_not_simulated": _l("Exam {id} has no answer key, or no active enrollment may sit it."),
    "no_exam_simulated": _l("No exam has an answer key and active enrollments; import one (or run `demo`) first."),
    "payload_text": _l("{name} must be text or null."),
    "payload_too_long": _l("{name} must be at most {max} characters."),
    "payload_confidence": _l("{name} must be a number between 0 and 1, or null."),
    "payload_marks": _l("{name} must be a list of marks."),
    "payload_one_mark": _l("{name} must be one mark: a single character such as \"2\"."),
    "payload_question": _l("{name} must be a question number (an integer >= 1)."),
    "payload_object": _l("{name} must be an object."),
    "payload_object_or_null": _l("{name} must be an object or null."),
    "payload_id_or_null": _l("{name} must be an integer id or null."),
    "result_not_object": _l("The result must be a JSON object."),
    "payload_status": _l("status must be DONE or FAILED."),
    "payload_result": _l("result must be an object for a DONE payload."),
    "payload_meta_used": _l("result.meta_used must be true, false or null."),
    "payload_answers": _l("result.answers must be a list."),
    "question_answered_twice": _l("question {n} is answered twice."),
    "question_not_in_key": _l("question {n} is not in the exam's answer key."),
    "correction_field": _l("{name} cannot be set by a correction; send answers only."),
    "correction_answers": _l("answers must be a non-empty list of {{question, detected}}."),
    "answer_not_correctable": _l("{key} cannot be corrected; send question and detected."),
    "question_corrected_twice": _l("question {n} is corrected twice."),
    "detected_required": _l("detected is required (an empty list for a blank answer)."),
    # clinic links and accounts: problems their pages word their own way
    "memo_required": _l("A memo is required for a clinic requested by a person."),
    "session_of_other_lecture": _l("The session does not belong to the student's lecture."),
    "username_taken": _l("A user with this name already exists."),
    "last_active_admin": _l("The last active admin cannot lose the admin role or be deactivated."),
    "lectures_for_teachers_only": _l(
        "Only teachers and staff (as assistants) are assigned lectures; admins edit every lecture."),
    # accounts and passwords (the password rule: dashboard.accounts.passwords)
    "username_required": _l("a username is required"),
    "username_too_long": _l("a username has at most {max} characters"),
    "username_spaces": _l("a username has no spaces or control characters"),
    "role_choice": _l("role must be one of {choices}"),
    "unknown_lectures": _l("unknown lecture id: {ids}"),
    "user_deactivated": _l("user '{username}' is deactivated"),
    "token_name_too_long": _l("a token name has at most {max} characters"),
    "token_days": _l("a token lasts 1 to {max} days"),
    "no_token": _l("no API token with id {id}"),
    "password_required": _l("A password is required."),
    "password_too_short": _l("A password has at least %(n)s characters."),
    "password_is_username": _l("A password must not be the username."),
    "password_too_common": _l("This password is on the list of passwords everyone tries first; choose another."),
    "password_current_wrong": _l("The current password is not right."),
    # parents: guardians, counselling notes, notifications
    "bad_phone": _l("Enter a phone number: digits, optionally starting with +."),
    "bad_email": _l("Enter an e-mail address."),
    "guardian_twice": _l("This student already has a guardian with this name and relation."),
    "not_note_author": _l("Only the author may edit this note."),
    "notification_not_pending": _l("This message was already sent or cancelled."),
    "unknown_placeholder": _l("Unknown placeholder {name}; use {choices}."),
    # reports
    "bad_month": _l("Enter a month as YYYY-MM."),
    # trust: versions, idempotency, media types, rate limits, parsing limits
    "bad_version": _l("A version is a positive whole number, as the object's \"version\" field shows."),
    "idempotency_key_invalid": _l("An Idempotency-Key is 1 to 255 visible ASCII characters."),
    "idempotency_key_reused": _l("This Idempotency-Key was already used for another request."),
    "idempotency_in_progress": _l("A request with this Idempotency-Key is still running; try again shortly."),
    "unsupported_media_type": _l("The body must be JSON, sent as Content-Type: application/json."),
    "rate_limited": _l("Too many requests with this token; try again in {seconds} seconds."),
    "too_deep": _l("The JSON body is nested too deeply (at most {max} levels)."),
    "number_out_of_range": _l("This number is out of range."),
    "not_ascii_digits": _l("Write numbers with the digits 0-9 only."),
    "time_out_of_range": _l("This date and time is out of range."),
    "invisible_name": _l("A name needs at least one visible character."),
    "unknown_parameter": _l("Unknown parameter {name}."),
    "question_number": _l("must be a whole number of at least 1"),
    "marks_with_spaces": _l("write the marks together without spaces, such as 24"),
    "too_many_marks": _l("must have at most %(n)s marks"),
    "repeated_mark": _l("must not repeat a mark"),
    "question_twice": _l("question %(n)s appears twice"),
    "key_points_above_max": _l("The points add up to %(total)s, more than the exam's maximum score %(max)s."),
    "graded_key_emptied": _l("Scans of this exam have been graded from its key: it cannot be emptied."),
    "empty_answer_key": _l("An answer key needs at least one question; nothing was changed."),
    "exam_shared_lecture": _l("This exam is shared with a lecture you do not teach; only someone who teaches all of its lectures may change it."),
    # setup pages (dashboard.academy): their own checks, and the snapshot importer's refusals in the
    # words of the form
    "value_required": _l("A value is required."),
    "text_too_long": _l("This text is too long."),
    "session_order_taken": _l("Another session of this lecture already has this order."),
    "session_needed_by_attempts": _l(
        "An exam's recorded attempts need this session: link the exam to another session first."),
    "already_enrolled": _l("This student is already enrolled in this lecture."),
    "stored_scores_above_max": _l("Stored scores are higher than this maximum."),
    "exam_link_needed_by_attempts": _l("Recorded attempts need a session this exam would no longer be linked to."),
    "lecture_archived": _l("This lecture is archived; restore it before changing it."),
    "choose_teachers": _l("Choose teachers from the list."),
    "only_teachers_assigned": _l("Only teachers are assigned lectures."),
    "order_range": _l("An order is a whole number from 1 to %(n)s."),
    "orders_would_pass": _l("Orders would pass %(n)s."),
    "term_count_range": _l("From 1 to %(n)s sessions."),
    "choose_weekday": _l("Choose at least one weekday."),
    "choose_student": _l("Choose a student from the list."),
    "max_score_not_positive": _l("The maximum score must be above 0."),
    "pass_above_max": _l("The pass score cannot be above the maximum score."),
    "choose_sessions": _l("Choose at least one session."),
    "sessions_of_other_lecture": _l("Choose sessions of this lecture."),
    "choose_lecture_session": _l("Choose a session of this lecture."),
    "no_such_date": _l("This date does not exist."),
    "removed_meanwhile": _l("Something this change needs was removed meanwhile; reload the page."),
    "import_problem": _l("This change was refused: {message}"),
    # signing in
    "login_invalid": _l("Invalid username or password."),
    "login_deactivated": _l("This account is deactivated. Ask an administrator."),
    "login_throttled": _l("Too many failed sign-in attempts. Try again in %(n)s minutes."),
    "login_throttled_one": _l("Too many failed sign-in attempts. Try again in 1 minute."),
    # list query parameters (SPEC §8)
    "query_not_boolean": _l("'{name}' must be true or false."),
    "query_not_integer": _l("'{name}' must be a whole number."),
    "query_out_of_range": _l("'{name}' is out of range."),
    "query_ordering": _l("'ordering' must be one of {allowed}, optionally prefixed with '-'."),
    "query_page_size": _l("'page_size' must be at least 1."),
    "query_unknown_parameter": _l("Unknown parameter '{name}'; this list takes {known}."),
    "query_scan_status": _l("'status' must be pending, failed, needs_review or graded."),
    "page_out_of_range": _l("Invalid page."),
    "lecture_settings_forbidden": _l("Only an admin changes a lecture's title, teachers or archiving."),
    "lecture_create_forbidden": _l("Only an admin creates lectures."),
    "structure_forbidden": _l("Only an admin or the lecture's teacher changes its sessions and enrollments."),
    "student_create_forbidden": _l("Only an admin creates a student outside a lecture."),
    "student_edit_forbidden": _l("Only an admin or a teacher of the student's lecture edits a student."),
    # class day: roll call and column entry
    "not_in_session": _l("This {kind} is not part of this session."),
    "duplicate_row": _l("This student already has a row above."),
    "withdrawn": _l("The student has withdrawn from this lecture; their record is frozen."),
    "presence_contradicts_attendance": _l(
        "The roll call contradicts the attendance: present and late mean offline, absent and excused online."),
}


class Refused(Exception):
    """A request the product refuses; nothing it would have changed is kept."""

    kind = "validation"
    status = 400

    def __init__(self, reason: str, field: str | None = None, **params: Any) -> None:
        if reason not in TEXTS:
            raise KeyError(f"error reason {reason!r} has no text in dashboard.errors.TEXTS")
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.params = params
        # Further problems of the same request (see `all_of`); the API lists them in `errors`.
        self.also: tuple[Refused, ...] = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, field={self.field!r}, **{self.params!r})"


class Invalid(Refused):
    """A value that breaks a rule (400 `validation`)."""


class Forbidden(Refused):
    """The caller's role or lectures do not allow this (403 `forbidden`)."""

    kind = "forbidden"
    status = 403

    def __init__(self, reason: str = "forbidden", field: str | None = None, **params: Any) -> None:
        super().__init__(reason, field, **params)


class NotFound(Refused):
    """The object is missing or outside what the caller may see (404 `not_found`)."""

    kind = "not_found"
    status = 404

    def __init__(self, reason: str = "not_found", field: str | None = None, **params: Any) -> None:
        super().__init__(reason, field, **params)


class Conflict(Refused):
    """The change clashes with the stored state: a full clinic session, a stale version (409 `conflict`)."""

    kind = "conflict"
    status = 409


def all_of(problems: list[Refused]) -> Refused:
    """One error for several problems of one request: the first, carrying the others in `also`."""
    first = problems[0]
    first.also = tuple(problems[1:])
    return first


def describe(error: Refused) -> str:
    """The error's text in the current language, its parameters filled in (texts shared with
    other messages of the catalogue keep their ``%(name)s`` placeholders)."""
    text = str(TEXTS[error.reason])
    return text % error.params if "%(" in text else text.format(**error.params)
