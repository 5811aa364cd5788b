"""`python -m <package>`: the command-line caller."""

import sys

from .cli import main

sys.exit(main())
