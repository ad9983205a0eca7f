"""Standalone admin access: login links, sessions, sign-out, and what signed-out visitors see."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from appserver import csrf_of, login_link_token


async def test_the_login_link_signs_in_and_lands_on_the_courses_empty_state(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/login/{await login_link_token()}", follow_redirects=True)

    assert response.status_code == 200
    assert "Upload your first course" in response.text
    assert 'enctype="multipart/form-data"' in response.text


async def test_the_session_cookie_is_httponly_and_not_readable_by_scripts(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/login/{await login_link_token()}")

    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("scormhub_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served over plain http in this test


async def test_a_used_login_link_explains_how_to_get_a_new_one(client: httpx.AsyncClient) -> None:
    token = await login_link_token()
    await client.get(f"/login/{token}")
    client.cookies.clear()

    response = await client.get(f"/login/{token}")

    assert response.status_code == 410
    assert "scormhub login-link" in response.text
    assert "scormhub_session" not in response.headers.get("set-cookie", "")


async def test_admin_pages_send_signed_out_visitors_to_the_sign_in_page(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/app/courses", "/app/reports", "/app/settings", "/app/jobs"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/signed-out"


async def test_an_htmx_request_without_a_session_redirects_the_whole_page(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/app/courses", headers={"HX-Request": "true"})

    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/signed-out"


async def test_a_tampered_session_cookie_is_treated_as_signed_out(client: httpx.AsyncClient) -> None:
    client.cookies.set("scormhub_session", "gAAAAABforged-token-value")

    response = await client.get("/app/courses")

    assert response.status_code == 303


async def test_signing_out_needs_the_csrf_token_and_then_ends_the_session(
    admin: httpx.AsyncClient,
) -> None:
    await admin.get("/app/courses")

    refused = await admin.post("/logout")
    assert refused.status_code == 403
    assert (await admin.get("/app/courses")).status_code == 200

    accepted = await admin.post("/logout", data={"_csrf_token": csrf_of(admin)})
    assert accepted.status_code == 303
    assert accepted.headers["location"] == "/signed-out"
    assert (await admin.get("/app/courses")).status_code == 303


async def test_every_admin_tab_renders_for_a_signed_in_admin(admin: httpx.AsyncClient) -> None:
    for path, heading in (
        ("/app/courses", "Courses"),
        ("/app/reports", "Reports"),
        ("/app/settings", "Settings"),
    ):
        response = await admin.get(path)
        assert response.status_code == 200, path
        assert f"<h1>{heading}</h1>" in response.text
        assert f"<title>{heading} · SCORM Hub</title>" in response.text, "nothing leaks into the title"
        assert 'aria-current="page"' in response.text


async def test_settings_show_the_trial_plan_and_the_builtin_engine(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/app/settings")

    assert "up to 10 active registrations" in response.text
    assert "Built-in SCORM player" in response.text


async def test_the_job_dashboard_is_served_to_signed_in_admins(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/app/jobs")
    queues = await admin.get("/app/jobs/api/queues")

    assert page.status_code == 200
    assert queues.status_code == 200
    assert queues.json()["queues"][0]["name"] == "scormhub"


async def test_an_unknown_page_gets_a_designed_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")

    assert response.status_code == 404
    assert "There is nothing here" in response.text


async def test_each_request_is_logged_once_with_its_workspace_and_duration_but_never_a_login_token(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = await login_link_token()
    with caplog.at_level(logging.INFO, logger="scormhub.request"):
        await client.get(f"/login/{token}")
        await client.get("/app/courses")

    lines = [r.getMessage() for r in caplog.records if r.name == "scormhub.request"]
    assert len(lines) == 2
    assert lines[0].startswith("GET /login/*** 303")
    assert re.match(r"GET /app/courses 200 [\d.]+ms workspace=[0-9a-f-]{36}$", lines[1])
    assert all(token not in line for line in lines)
