"""`python -m bot.cli`: how `/model retrain` starts `toxmod train` in a child process."""

import sys

from bot.cli import main

sys.exit(main())
