"""The parsers, one module per board kind; `registry.KINDS` maps a `kind` name to its parser.

Kept empty so that importing one kind (`bot.sources.lever`) loads that kind only.
"""
