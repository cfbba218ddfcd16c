"""Messages meant for a user, which the dashboard shows in the visitor's language.

A `Message` is the English text (a plain `str`, so the CLI prints it as is) that also keeps its template and values:
the dashboard looks the template up in its catalog and fills in the same values.
"""
from __future__ import annotations


class Message(str):
    """English text for a user, built from `template.format(**values)`, remembering both."""

    template: str
    values: dict

    def __new__(cls, template: str, **values) -> Message:
        message = super().__new__(cls, template.format(**values))
        message.template, message.values = template, values
        return message
