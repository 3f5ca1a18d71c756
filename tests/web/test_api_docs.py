"""The self-hosted API documentation at /api/docs: behind the login, no CDN, the document ours."""
from __future__ import annotations

from tests.factories import make_user
from tests.web.pages import sign_in


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/api/docs")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_signed_in_user_gets_swagger_ui_from_this_site(client, app):
    sign_in(client, make_user("reader", "teacher"))
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-spec="/api/openapi.json"' in html
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html  # nothing from elsewhere
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self' 'unsafe-inline'" in policy
    bundle = client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.get_data()) > 500_000
    bundle.close()
