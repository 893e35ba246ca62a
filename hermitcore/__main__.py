import sys

from hermitcore.cli import main

sys.exit(main())
