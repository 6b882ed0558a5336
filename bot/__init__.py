"""jobhound: watch job boards, store every posting once, alert subscribers on Telegram."""

__version__ = "0.1.0"
