import sys

from layerwise.cli import main

sys.exit(main())
