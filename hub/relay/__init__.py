"""Staff call-outs (安否確認・参集): surveys, the relay chain LINE → phone → e-mail, answers, tally.

Entry points: :func:`hub.relay.callouts.start_callout` (CLI, API, trigger rules), then
:func:`hub.relay.tasks.release_callout` after commit. See docs/relay.md.
"""
