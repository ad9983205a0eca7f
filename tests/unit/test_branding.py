"""save_branding on fakes: what is stored for each way of giving a logo, and what a bad form is told."""

from __future__ import annotations

import uuid

import pytest
from fakes.branding import PNG_MAGIC, FakeBrandingStore, FakeLogoSource
from fakes.system import FakeClock

from scormhub.domain.branding import BrandingForm, BrandingRejected, save_branding
from scormhub.domain.model import Branding, CrmKind, EngineKind, PlanMode, Workspace, WorkspaceKind

LOGO = PNG_MAGIC + b"logo"
URL = "https://cdn.example.com/logo.png"


class World:
    def __init__(self, urls: dict[str, bytes] | None = None) -> None:
        self.clock = FakeClock()
        self.store = FakeBrandingStore()
        self.logos = FakeLogoSource(urls)
        self.workspace = Workspace(
            id=uuid.uuid4(),
            name="Agency",
            kind=WorkspaceKind.STANDALONE,
            plan=PlanMode.LIVE,
            engine=EngineKind.BUILTIN,
            crm=CrmKind.LOCAL,
            created_at=self.clock.now(),
        )

    async def save(self, **fields: object) -> Branding:
        form = BrandingForm(
            **{"organization_name": "Acme", "primary_color": "#aa0000", "logo_url": "", **fields}
        )  # type: ignore[arg-type]
        return await save_branding(self.workspace, form, store=self.store, logos=self.logos, clock=self.clock)

    def stored(self) -> Branding:
        return self.store.saved[self.workspace.id][0]


async def test_a_good_form_is_stored_with_the_colour_in_capitals_and_the_time_it_was_saved() -> None:
    world = World()

    saved = await world.save()

    assert saved == world.stored() == Branding(organization_name="Acme", primary_color="#AA0000")
    assert world.store.saved[world.workspace.id][1] == world.clock.now()


async def test_an_uploaded_logo_is_stored_as_bytes_without_a_url() -> None:
    world = World()

    await world.save(logo_upload=LOGO, logo_url=URL)

    stored = world.stored()
    assert (stored.logo_bytes, stored.logo_content_type, stored.logo_url) == (LOGO, "image/png", None)
    assert world.logos.fetched == []


async def test_a_logo_url_is_fetched_once_and_stored_with_its_bytes() -> None:
    world = World({URL: LOGO})

    await world.save(logo_url=URL)
    await world.save(logo_url=URL)

    assert world.logos.fetched == [URL]
    stored = world.stored()
    assert (stored.logo_bytes, stored.logo_url) == (LOGO, URL)


async def test_removing_the_logo_clears_bytes_type_and_url() -> None:
    world = World({URL: LOGO})
    await world.save(logo_url=URL)

    await world.save(logo_url=URL, remove_logo=True)

    stored = world.stored()
    assert (stored.logo_bytes, stored.logo_content_type, stored.logo_url) == (None, None, None)


async def test_every_bad_field_is_named_and_nothing_is_saved() -> None:
    world = World()

    with pytest.raises(BrandingRejected) as rejected:
        await world.save(organization_name="", primary_color="red", logo_upload=b"<svg/>")

    assert set(rejected.value.errors) == {"organization_name", "primary_color", "logo"}
    assert "#RRGGBB" in rejected.value.errors["primary_color"]
    assert "SVG is not accepted" in rejected.value.errors["logo"]
    assert rejected.value.current == Branding(organization_name="Agency")
    assert world.store.saved == {}


async def test_a_refused_logo_url_keeps_the_branding_in_force() -> None:
    world = World()
    await world.save(logo_upload=LOGO)

    with pytest.raises(BrandingRejected) as rejected:
        await world.save(logo_url="https://elsewhere.example.com/missing.png")

    assert "404" in rejected.value.errors["logo"]
    assert world.stored().logo_bytes == LOGO
