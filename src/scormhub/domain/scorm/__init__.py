"""SCORM itself: package checks, the run-time data model, sessions and rollup; pure, framework-free code."""
