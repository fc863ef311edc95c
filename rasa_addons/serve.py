"""`python -m rasa_addons.serve run ...`: Rasa's own command line, with the HTTP API switched on
from the RASA_API_TOKEN setting inside the process, so the token never appears in the process
list (`ps` shows a process's original arguments to every user of the machine)."""

from __future__ import annotations

import sys
from typing import List, Optional

from needlewise import settings


def arguments(argv: List[str], token: Optional[str]) -> List[str]:
    """Rasa's arguments, plus the API switch and its token when a token is set."""
    return [*argv, "--enable-api", "--auth-token", token] if token else list(argv)


def main() -> None:
    from rasa.__main__ import main as rasa_main

    sys.argv = [sys.argv[0], *arguments(sys.argv[1:], settings.current().rasa_api_token)]
    rasa_main()


if __name__ == "__main__":
    main()
