"""`python -m codegen`: write generated/, or with --check report how it differs."""

import sys

from codegen.cli import main

sys.exit(main())
