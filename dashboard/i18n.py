"""Korean and English UI text through Flask-Babel.

The locale of a request: the signed-in user's own setting (`User.locale`, 'ko' or 'en') when
they chose one, else the browser's Accept-Language, else English. Translations live in
`translations/ko/LC_MESSAGES/messages.po`; the compiled `messages.mo` beside it is committed
(docs/decisions.md, "Translations") and a test checks that it matches the `.po`.

In Python use `gettext`/`lazy_gettext` from flask_babel (lazy for text built at import time,
such as form labels); in templates `{{ _('Text') }}` or `{{ _('%(n)s open', n=count) }}`.
"""
from __future__ import annotations

from flask import Flask, has_request_context, request
from flask_babel import Babel, get_locale, refresh
from flask_login import current_user

from dashboard import ROOT

SUPPORTED_LOCALES = ("en", "ko")
DEFAULT_LOCALE = "en"
TRANSLATIONS_DIRECTORY = ROOT / "translations"

babel = Babel()


def select_locale() -> str:
    """The user's own choice, else the best match for the browser's languages, else English
    (English too outside a request: a CLI command, a service called from a test)."""
    if not has_request_context():
        return DEFAULT_LOCALE
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in SUPPORTED_LOCALES:
        return user_locale
    return request.accept_languages.best_match(SUPPORTED_LOCALES, default=DEFAULT_LOCALE)


def current_language() -> str:
    """The language code of the current request ('en' or 'ko'), for `<html lang>`."""
    return str(get_locale() or DEFAULT_LOCALE)


def init_app(app: Flask) -> None:
    """Bind Flask-Babel to the app, with the translations directory at the project root."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIRECTORY)
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel caches the locale on the app context; a context that outlives one request (the
    # test client's, a CLI command serving several) must choose again for each request.
    app.before_request(refresh)
    app.jinja_env.globals["current_language"] = current_language
