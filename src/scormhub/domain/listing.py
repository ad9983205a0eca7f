"""Search, sort and page of a long list, read from a bookmarkable query string.

A list page (Courses, a course's learners, Contacts) is a URL such as `?q=ada&sort=-score&page=2`: the
server does the work, and the same URL opened later (or from a bookmark) shows the same slice. Anything a
person could type into the address bar is accepted: an unknown sort falls back to the default, a page
number that is not a number is the first page, and a search is cut to a sane length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar
from urllib.parse import urlencode

T = TypeVar("T")

MAX_QUERY_CHARS = 100
# An offset beyond PostgreSQL's bigint is an error, not an empty page.
MAX_PAGE = 100_000


@dataclass(frozen=True)
class ListQuery:
    """What to show of a list: the search text, the sort key (one of the list's own), its order, the page."""

    q: str = ""
    sort: str = ""
    descending: bool = False
    page: int = 1
    page_size: int = 25
    # The list's own default order, left out of its URLs so the plain address stays the default view.
    default_sort: str = ""
    default_descending: bool = False

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def sort_param(self) -> str:
        return f"-{self.sort}" if self.descending else self.sort

    def query_string(self, **changes: object) -> str:
        """This view's query string with some parts changed (`page=2`, `sort="name"`), defaults left out."""
        view = replace(self, **changes)  # type: ignore[arg-type]
        params: dict[str, str] = {}
        if view.q:
            params["q"] = view.q
        if view.sort and (view.sort, view.descending) != (view.default_sort, view.default_descending):
            params["sort"] = view.sort_param
        if view.page > 1:
            params["page"] = str(view.page)
        return urlencode(params)

    def sorted_by(self, key: str) -> str:
        """The query string of a column header: sort by `key`, or flip the direction if it already is."""
        descending = not self.descending if key == self.sort else False
        return self.query_string(sort=key, descending=descending, page=1)

    def aria_sort(self, key: str) -> str:
        """`aria-sort` for a column header, so a screen reader says how the list is sorted."""
        if key != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"


@dataclass(frozen=True)
class ListPage(Generic[T]):
    """One page of a list, with the count of everything that matched (for "Page 2 of 7")."""

    items: Sequence[T]
    total: int
    query: ListQuery

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))


def parse_list_query(
    params: Mapping[str, str],
    *,
    sorts: Sequence[str],
    default_sort: str,
    default_descending: bool = False,
    page_size: int = 25,
) -> ListQuery:
    """The view a query string asks for; `sorts` are the keys this list can be sorted by."""
    q = " ".join(str(params.get("q", "")).split())[:MAX_QUERY_CHARS]
    raw_sort = str(params.get("sort", "")).strip()
    descending = raw_sort.startswith("-")
    sort = raw_sort.lstrip("-")
    if sort not in sorts:
        sort, descending = default_sort, default_descending
    try:
        page = max(1, min(int(str(params.get("page", "1"))), MAX_PAGE))
    except ValueError:
        page = 1
    return ListQuery(
        q=q,
        sort=sort,
        descending=descending,
        page=page,
        page_size=page_size,
        default_sort=default_sort,
        default_descending=default_descending,
    )


def like_pattern(text: str) -> str:
    """A SQL LIKE pattern matching `text` anywhere, its own `%`, `_` and `\\` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
