"""Automation: HighLevel workflow actions and triggers, and signed webhooks for everyone else.

`events` turns state changes (enrolled, completed, passed, failed, certificate issued) into outbox rows in
the transaction of the change; `actions` answers HighLevel's action calls; `subscriptions` keeps the
trigger subscriptions HighLevel creates; `webhooks` manages endpoints and delivers their outbox.
"""
