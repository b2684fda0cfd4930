"""Messages by action type: templates, the outbox and its worker, and the senders.

Only ``notifier.twilio`` imports twilio.
"""
