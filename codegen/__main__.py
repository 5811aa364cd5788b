"""`python -m codegen`: write generated/, or with --check report how it differs; `python -m codegen breaking`
checks definitions/ for changes that break old clients."""

import sys

from codegen.cli import main

sys.exit(main())
