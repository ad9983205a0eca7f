"""HTTP plumbing shared by routes and partials: sessions, CSRF, guards, htmx, flash messages, middleware."""
