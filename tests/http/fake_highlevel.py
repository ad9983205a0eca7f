"""A stateful stand-in for HighLevel's API v2 (respx side effects), shaped like the reference.

It keeps contacts, tags, notes, custom objects, fields, records and relations, checks the headers every
v2 call must carry, and enforces the burst limit (100 requests per 10 s per location, reference §7) by
answering 429 the way HighLevel would, so a test can show the app never goes over it.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import respx

LOCATION = "ve9EPM428h8vShlRW1KT"
COMPANY = "ocQHyuzHvysMo5N5VsXc"
USER = "YlWd2wuCAZQzh2cH1fVZ"


@dataclass
class FakeHighLevel:
    base_url: str
    limit: int = 100
    window_s: float = 10.0
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    fields: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    folders: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    associations: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    relations: list[dict[str, Any]] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)  # when each API call arrived
    refused: int = 0  # 429s answered
    exchanges: int = 0
    # (method, path suffix) -> (status, body): answer these instead, e.g. a strict endpoint's 422.
    failures: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def add_contact(self, first: str, last: str, email: str) -> dict[str, Any]:
        contact = {
            "id": self.new_id("ct"),
            "locationId": LOCATION,
            "firstName": first,
            "lastName": last,
            "name": f"{first} {last}",
            "email": email,
            "emailLowerCase": email.lower(),
            "tags": [],
            "dateAdded": "2026-11-01T10:00:00.000Z",
        }
        self.contacts[contact["id"]] = contact
        return contact

    def busiest_window(self) -> int:
        """The most calls inside any `window_s` (what HighLevel's limit counts)."""
        times = sorted(self.sent)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= self.window_s:
                start += 1
            best = max(best, end - start + 1)
        return best

    # --- respx wiring -------------------------------------------------------------------------------

    def mount(self, router: respx.MockRouter) -> None:
        router.post(f"{self.base_url}/oauth/token").mock(side_effect=self._token)
        router.route(url__startswith=self.base_url).mock(side_effect=self._api)

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.exchanges += 1
        form = parse_qs(request.content.decode())
        return httpx.Response(
            200,
            json={
                "access_token": f"access-{self.exchanges}",
                "token_type": "Bearer",
                "expires_in": 86399,
                "refresh_token": f"refresh-{self.exchanges}",
                "scope": "contacts.readonly contacts.write",
                "userType": form.get("user_type", ["Location"])[0],
                "locationId": LOCATION,
                "companyId": COMPANY,
                "approvedLocations": [LOCATION],
                "userId": USER,
            },
        )

    def _api(self, request: httpx.Request) -> httpx.Response:
        assert request.headers.get("Version") == "2021-07-28", request.url
        assert request.headers.get("Authorization", "").startswith("Bearer access-"), request.url
        now = time.monotonic()
        recent = [t for t in self.sent if now - t < self.window_s]
        if len(recent) >= self.limit:
            self.refused += 1
            return httpx.Response(429, json={"statusCode": 429, "message": "Too Many Requests"})
        self.sent.append(now)
        path = request.url.path
        for (method_, suffix), (status, answer) in self.failures.items():
            if request.method == method_ and path.endswith(suffix):
                return httpx.Response(status, json=answer)
        body = json.loads(request.content) if request.content else {}
        method = request.method
        parts = [p for p in path.split("/") if p]
        headers = {
            "X-RateLimit-Remaining": str(self.limit - len(recent) - 1),
            "X-RateLimit-Max": str(self.limit),
        }

        def ok(payload: Any, status: int = 200) -> httpx.Response:
            return httpx.Response(status, json=payload, headers=headers)

        def refused(message: str) -> httpx.Response:
            return httpx.Response(400, json={"statusCode": 400, "message": message}, headers=headers)

        def missing() -> httpx.Response:
            return httpx.Response(404, json={"statusCode": 404, "message": "Not found"}, headers=headers)

        if path == "/contacts/search" and method == "POST" and body.get("filters"):
            # The tag filter, paged with searchAfter (never together with page): each contact carries
            # its cursor, as community code reads it.
            assert not ("page" in body and "searchAfter" in body)
            [tag] = [f["value"] for f in body["filters"] if f["field"] == "tags" and f["operator"] == "eq"]
            tagged = sorted((c for c in self.contacts.values() if tag in c["tags"]), key=lambda c: c["id"])
            after = body.get("searchAfter")
            if after:
                tagged = [c for c in tagged if c["id"] > after[1]]
            page = [{**c, "searchAfter": [1700000000000, c["id"]]} for c in tagged[: body["pageLimit"]]]
            return ok({"contacts": page, "total": len(tagged)})
        if path == "/contacts/search" and method == "POST":
            query = body["query"].lower()
            found = [
                c for c in self.contacts.values() if query in c["name"].lower() or query in c["email"].lower()
            ]
            return ok({"contacts": found[: body["pageLimit"]], "total": len(found)})
        if path == "/contacts/search/duplicate":
            email = request.url.params.get("email", "").lower()
            match = next((c for c in self.contacts.values() if c["emailLowerCase"] == email), None)
            return ok({"contact": match})
        if path == "/contacts/upsert" and method == "POST":
            assert "tags" not in body
            contact = self.add_contact(body.get("firstName", ""), body.get("lastName", ""), body["email"])
            return ok({"new": True, "contact": contact, "traceId": "t"})
        if parts[:1] == ["contacts"] and len(parts) >= 2:
            contact = self.contacts.get(parts[1])
            if contact is None:
                return missing()
            if len(parts) == 2 and method == "GET":
                return ok({"contact": contact})
            if parts[2:] == ["tags"]:
                if method == "POST":
                    contact["tags"] = sorted(set(contact["tags"]) | set(body["tags"]))
                    return ok({"tags": contact["tags"]}, 201)
                contact["tags"] = [t for t in contact["tags"] if t not in body["tags"]]
                return ok({"tags": contact["tags"]})
            if parts[2:] == ["notes"]:
                notes = self.notes.setdefault(contact["id"], [])
                if method == "GET":
                    return ok({"notes": notes})
                note = {"id": self.new_id("nt"), "contactId": contact["id"], **body}
                notes.append(note)
                return ok({"note": note}, 201)
        if path == "/objects/" and method == "POST":
            schema = {
                "id": self.new_id("ob"),
                "key": body["key"],
                "labels": body["labels"],
                "standard": False,
            }
            self.objects[body["key"]] = schema
            self.fields[body["key"]] = [
                {"id": self.new_id("fd"), "fieldKey": body["primaryDisplayPropertyDetails"]["key"]}
            ]
            return ok({"object": schema}, 201)
        if path == "/objects/" and method == "GET":
            return ok({"objects": list(self.objects.values())})
        if parts[:1] == ["objects"] and len(parts) == 2 and method == "GET":
            schema = self.objects.get(parts[1])
            if schema is None:  # strict, as the reference allows: no 404 is listed for this lookup
                return refused(f"Object {parts[1]} not found")
            return ok({"object": schema, "cache": False, "fields": self.fields[parts[1]]})
        if parts[:1] == ["objects"] and len(parts) >= 3 and parts[2] == "records":
            if parts[1] not in self.objects:
                return missing()
            if method == "POST":
                record = {"id": self.new_id("rc"), "objectKey": parts[1], "properties": body["properties"]}
                self.records[record["id"]] = record
                return ok({"record": record}, 201)
            record = self.records.get(parts[3])
            if record is None:
                return missing()
            record["properties"].update(body["properties"])
            return ok({"record": record})
        if parts[:2] == ["custom-fields", "object-key"]:
            return ok({"fields": self.fields.get(parts[2], []), "folders": self.folders.get(parts[2], [])})
        if path == "/custom-fields/folder":
            folder = {"id": self.new_id("fo"), "name": body["name"]}
            self.folders.setdefault(body["objectKey"], []).append(folder)
            return ok(folder, 201)
        if path == "/custom-fields/" and method == "POST":
            created = {"id": self.new_id("fd"), "fieldKey": body["fieldKey"], "dataType": body["dataType"]}
            self.fields.setdefault(body["objectKey"], []).append(created)
            return ok({"field": created}, 201)
        if path == "/associations/" and method == "GET":
            skip, limit = int(request.url.params["skip"]), int(request.url.params["limit"])
            return ok(list(self.associations.values())[skip : skip + limit])
        if parts[:2] == ["associations", "key"]:
            found = self.associations.get(parts[2])
            return ok(found) if found else refused(f"Association {parts[2]} not found")
        if path == "/associations/" and method == "POST":
            association = {"id": self.new_id("as"), **body, "associationType": "USER_DEFINED"}
            self.associations[body["key"]] = association
            return ok(association, 201)
        if path == "/associations/relations" and method == "POST":
            if body["secondRecordId"] not in self.contacts:
                return missing()
            relation = {"id": self.new_id("rl"), **body}
            self.relations.append(relation)
            return ok(relation, 201)
        raise AssertionError(f"the fake does not know {method} {path}")
