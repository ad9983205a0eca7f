"""htmx fragments: each module holds one area's partials (the functions that build and render each, and
the handler of a fragment whose URL is its own); their templates are templates/partials/<area>/.
Pages and form posts in routes/ answer htmx requests by calling these functions."""
