"""Everyday notices: personalised CSV sends (差し込み) and reminders relative to a date column.

docs/notices.md describes what the operator sees; the modules here are the engine under it:
``placeholders`` (the template language), ``csvfile`` (reading the file), ``reminders`` (when each
row goes), ``check`` (every row checked before anything is stored), ``store`` (the send and its
messages), ``personal`` (each recipient's text, planning's rows).
"""
