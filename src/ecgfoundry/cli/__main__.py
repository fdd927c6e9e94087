import sys

from ecgfoundry.cli.main import main

sys.exit(main())
