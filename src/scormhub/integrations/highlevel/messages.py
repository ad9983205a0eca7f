"""Email through HighLevel to a contact: POST /conversations/messages with type "Email".

What could be confirmed from public material (HighLevel's SDK and API docs, as found by search): the
endpoint `POST /conversations/messages`, scope `conversations/message.write`, body fields `type`
("SMS", "Email", …), `contactId`, `subject`, `message` (plain text) and `html`; the answer carries
`conversationId` and `messageId`. HighLevel sends it from the location's own email settings (its
LC Email or SMTP), so the sender's address is the location's, not ours. Not confirmed: whether this
endpoint expects the Version header 2021-04-15 rather than the 2021-07-28 the rest of the client sends.
"""

from __future__ import annotations

from typing import Final

from scormhub.integrations.highlevel.client import HighLevelClient

SEND_MESSAGE: Final = "/conversations/messages"
SCOPE: Final = "conversations/message.write"


async def send_email(
    api: HighLevelClient, contact_id: str, *, subject: str, text: str, html: str
) -> str | None:
    """Send one email to the contact; HighLevel's message id (None when the answer has none)."""
    answer = await api.request(
        "POST",
        SEND_MESSAGE,
        body={"type": "Email", "contactId": contact_id, "subject": subject, "message": text, "html": html},
    )
    message_id = answer.get("messageId") if isinstance(answer, dict) else None
    return message_id if isinstance(message_id, str) else None
