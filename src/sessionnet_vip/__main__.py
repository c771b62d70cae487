import sys

from sessionnet_vip.cli import main

if __name__ == "__main__":
    sys.exit(main())
