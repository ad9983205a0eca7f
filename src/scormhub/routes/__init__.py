"""Full pages and form posts (Litestar controllers), webhooks and OAuth."""
