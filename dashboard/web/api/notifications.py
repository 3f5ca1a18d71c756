"""`/api/notifications/` and `/api/lectures/L/notification-settings/`: messages to guardians (SPEC §14).

Lists are scoped like every list (teachers: their lectures). Approving and cancelling are for
admins and the lecture's teachers; the settings are the admin's. Role checks come before the body.
"""
from __future__ import annotations

from flask import jsonify

from dashboard import listing
from dashboard.accounts.access import can_read_lecture, visible_lecture_ids
from dashboard.extensions import db
from dashboard.models import MAX_ID, Lecture, Notification
from dashboard.parents import outbox
from dashboard.web.api import (
    bp,
    current_api_user,
    forbidden,
    json_object,
    list_response,
    not_found,
)
from dashboard.web.api.resources import NOTIFICATION, NOTIFICATION_SETTINGS


@bp.get("/notifications/")
def notification_list():
    return list_response("notifications", visible_lecture_ids(current_api_user()))


def _message_for_review(notification_id: int) -> Notification:
    """The message, 404 outside the caller's lectures, 403 when their role may not review it."""
    user = current_api_user()
    notification = db.session.get(Notification, notification_id) if 0 < notification_id <= MAX_ID else None
    if notification is None:
        raise not_found()
    lecture_id = outbox.lecture_of_message(notification)
    if not can_read_lecture(user, lecture_id):
        raise not_found()
    if not outbox.may_review(user, lecture_id):
        raise forbidden()
    return notification


def _answer(notification: Notification):
    row = listing.get_row("notifications", notification.id, None)
    return jsonify(NOTIFICATION.dump(row))


@bp.post("/notifications/<int:notification_id>/approve/")
def notification_approve(notification_id: int):
    """A message awaiting review (or one that failed) is queued for sending."""
    notification = _message_for_review(notification_id)
    return _answer(outbox.approve(notification, current_api_user()))


@bp.post("/notifications/<int:notification_id>/cancel/")
def notification_cancel(notification_id: int):
    notification = _message_for_review(notification_id)
    return _answer(outbox.cancel(notification, current_api_user()))


def _lecture_for_settings(lecture_id: int) -> Lecture:
    user = current_api_user()
    lecture = db.session.get(Lecture, lecture_id) if 0 < lecture_id <= MAX_ID else None
    if lecture is None or not can_read_lecture(user, lecture.id):
        raise not_found()
    if user.role != "admin":
        raise forbidden()
    return lecture


@bp.get("/lectures/<int:lecture_id>/notification-settings/")
def notification_settings(lecture_id: int):
    lecture = _lecture_for_settings(lecture_id)
    return jsonify(NOTIFICATION_SETTINGS.dump((outbox.settings_of(lecture.id),)))


@bp.patch("/lectures/<int:lecture_id>/notification-settings/")
def notification_settings_update(lecture_id: int):
    lecture = _lecture_for_settings(lecture_id)
    return jsonify(NOTIFICATION_SETTINGS.dump((outbox.save_settings(lecture.id, json_object()),)))
