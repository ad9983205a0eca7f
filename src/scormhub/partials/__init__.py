"""htmx fragment endpoints; each partial's template lives in templates/partials/<area>/."""
