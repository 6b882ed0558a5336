"""jobhound's entry point: `python main.py run|once|latest|check` (see README)."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
