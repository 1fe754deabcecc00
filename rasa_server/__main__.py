"""`python -m rasa_server run …` is `rasa run …` with one fix to Rasa 3.6 (see speedups)."""

import sys

from rasa_server.speedups import apply

if __name__ == "__main__":
    apply()
    from rasa.__main__ import main

    sys.argv[0] = "rasa"
    sys.exit(main())
