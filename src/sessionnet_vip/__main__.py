import sys

from sessionnet_vip.cli import main

sys.exit(main())
