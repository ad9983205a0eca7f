"""The organization's colour on learner pages: kept where it reads well, made readable where it does not."""

from __future__ import annotations

from scormhub.domain.model import Branding
from scormhub.domain.themes import contrast, learner_brand, theme_of


def test_a_dark_brand_colour_is_used_as_is_with_white_text_on_it() -> None:
    theme = theme_of("#1d4ed8")

    assert (theme.accent, theme.on_accent, theme.accent_text) == ("#1D4ED8", "#FFFFFF", "#1D4ED8")


def test_a_pale_brand_colour_gets_dark_text_on_it_and_a_darker_shade_for_links() -> None:
    theme = theme_of("#FFE14D")

    assert theme.on_accent == "#111827"
    assert contrast(theme.accent_text, "#FFFFFF") >= 4.5
    assert contrast(theme.on_accent, theme.accent) >= 4.5


def test_anything_but_a_hex_colour_falls_back_to_the_default_and_never_reaches_the_stylesheet() -> None:
    css = theme_of("red;}body{display:none").css()

    assert "display" not in css
    assert "--brand:#2563EB" in css


def test_a_changed_brand_is_a_new_url_so_no_browser_keeps_the_old_look() -> None:
    before = learner_brand(Branding(organization_name="Acme"), base="/brand/w")
    after = learner_brand(Branding(organization_name="Acme", primary_color="#AA0000"), base="/brand/w")

    assert before.theme_url != after.theme_url
    assert before.logo_url is None
