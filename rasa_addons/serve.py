"""`python -m rasa_addons.serve <rasa sub-command> ...`: Rasa's own command line, with our Rasa patches.

- Applies every patch of rasa_addons/patches/ before handing over to Rasa, whatever the
  sub-command (`run`, `test`, `shell`, ...): the server, the story tests (`make test-stories`)
  and the held-out evaluation run the same Rasa. `--stock` first (`python -m rasa_addons.serve
  --stock run ...`) runs stock Rasa instead, for comparisons such as the starter configuration
  in `make bench`.
- For the sub-commands that start Rasa's server (`run`, `shell`), switches the HTTP API on from
  the RASA_API_TOKEN setting inside the process, so the token never appears in the process list
  (`ps` shows a process's original arguments to every user of the machine).
"""

from __future__ import annotations

import sys
from typing import List, Optional

from needlewise import settings

#: Rasa sub-commands that start Rasa's server, so take `--enable-api --auth-token`.
SERVER_COMMANDS = frozenset({"run", "shell"})
#: Our own first argument: run stock Rasa, without the patches.
STOCK = "--stock"


def arguments(argv: List[str], token: Optional[str]) -> List[str]:
    """Rasa's arguments, plus the API switch and its token when a token is set and the sub-command serves."""
    serves = bool(argv) and argv[0] in SERVER_COMMANDS
    return [*argv, "--enable-api", "--auth-token", token] if token and serves else list(argv)


def main() -> None:
    from rasa.__main__ import main as rasa_main

    from rasa_addons import patches

    argv = sys.argv[1:]
    stock = bool(argv) and argv[0] == STOCK
    if stock:
        argv = argv[1:]
    else:
        patches.apply_all()
    sys.argv = [sys.argv[0], *arguments(argv, settings.current().rasa_api_token)]
    rasa_main()


if __name__ == "__main__":
    main()
