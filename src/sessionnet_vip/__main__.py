import sys

from sessionnet_vip.entry import main

if __name__ == "__main__":
    sys.exit(main())
