"""Search, sort and pages of the long lists (Courses, a course's learners, Contacts): server-side, from a
bookmarkable query string, the same URL answering with the page or (for htmx) just the list."""

from __future__ import annotations

import re

import httpx
from litestar import Litestar
from test_enrollment_pages import GOLF_2004, HX, enroll_directly, ready_course

from scormhub.integrations.local_crm import LocalContactBook


def learner_names(text: str) -> list[str]:
    return re.findall(r'<td data-label="Learner"><span class="primary-text">([^<]+)</span>', text)


async def test_the_enrolled_table_is_searched_sorted_and_paged_from_its_bookmarkable_url(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    for first, last in [("Grace", "Hopper"), ("Ada", "Lovelace"), ("Alan", "Turing"), ("Ada", "Yonath")]:
        await enroll_directly(course, first, last, f"{first}.{last}@example.com".lower())
    url = f"/app/courses/{course.id}"

    by_name = await admin.get(url, params={"sort": "name"})
    searched = await admin.get(url, params={"q": "ada", "sort": "-name"})
    fragment = await admin.get(url, params={"q": "ADA", "sort": "-name"}, headers=HX)

    assert learner_names(by_name.text) == ["Ada Lovelace", "Ada Yonath", "Alan Turing", "Grace Hopper"]
    # The page itself, not a fragment: a bookmark or a reload opens the same view.
    assert "<h1>" in searched.text
    assert learner_names(searched.text) == ["Ada Yonath", "Ada Lovelace"]
    assert 'value="ada"' in searched.text  # the search box keeps what was searched
    assert "<html" not in fragment.text
    assert learner_names(fragment.text) == ["Ada Yonath", "Ada Lovelace"]
    assert fragment.headers["vary"] == "HX-Request"
    assert searched.headers["vary"] == "HX-Request"
    # The header of the sorted column says so, and links to the other direction.
    assert 'aria-sort="descending"' in searched.text
    assert f'href="{url}?q=ada&amp;sort=name"' in searched.text


async def test_a_search_that_matches_nobody_says_so_and_offers_everyone_back(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    await enroll_directly(course, "Ada", "Lovelace", "ada@example.com")

    response = await admin.get(f"/app/courses/{course.id}", params={"q": "100%_\\"})

    assert response.status_code == 200
    assert "No learner matches “100%_\\”." in response.text
    assert "Show everyone</a>" in response.text


async def test_nonsense_in_a_list_url_shows_the_default_view_not_an_error(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    await enroll_directly(course, "Ada", "Lovelace", "ada@example.com")

    for params in (
        {"sort": "password; DROP TABLE course", "page": "-3"},
        {"sort": "-", "page": "99999999999999999999"},
        {"page": "two", "q": "x" * 5000},
    ):
        for url in (f"/app/courses/{course.id}", "/app/courses", "/app/contacts"):
            response = await admin.get(url, params=params)
            assert response.status_code == 200, (url, params)


async def test_the_course_list_shows_file_names_and_is_searched_by_title_or_file_name(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    golf_12 = await ready_course(admin, app)
    golf_2004 = await ready_course(admin, app, GOLF_2004)

    everything = await admin.get("/app/courses")
    by_file = await admin.get("/app/courses", params={"q": "20043rd"}, headers=HX)

    assert "RuntimeBasicCalls_SCORM12.zip" in everything.text
    assert "RuntimeBasicCalls_SCORM20043rdEdition.zip" in everything.text
    assert f"/app/courses/{golf_2004.id}" in by_file.text
    assert f"/app/courses/{golf_12.id}" not in by_file.text
    assert 'id="course-list"' in by_file.text
    assert "<html" not in by_file.text


async def test_contacts_are_paged_by_fifty_and_sorted_by_email(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)  # makes the standalone workspace
    book = LocalContactBook(course.workspace_id)
    for i in range(52):
        await book.upsert_contact(first_name="Learner", last_name=f"N{i:02d}", email=f"l{i:02d}@example.com")

    first = await admin.get("/app/contacts", params={"sort": "-email"})
    second = await admin.get("/app/contacts", params={"sort": "-email", "page": "2"}, headers=HX)

    emails = re.findall(r'class="break">([^<]+)</td>', first.text)
    assert len(emails) == 50
    assert emails[:2] == ["l51@example.com", "l50@example.com"]
    assert "Page 1 of 2" in first.text
    assert re.findall(r'class="break">([^<]+)</td>', second.text) == ["l01@example.com", "l00@example.com"]
