import sys

from ipaudit.cli import main

sys.exit(main())
