"""train.py with --grow_envs's rule made to say yes after a window of a few updates (the rule itself is
tested purely in test_grow.py): for a real multi-rank run whose emulators double mid-run. Run as
`mpirun -np 2 python tests/grow_driver.py <train.py flags>`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ba3c.noise_scale  # noqa: E402
from ba3c import grow  # noqa: E402

grow.doubling_pays = lambda *args: True
grow.WINDOW_UPDATES, grow.MIN_READINGS, grow.MAX_ENVS = 4, 1, 4
ba3c.noise_scale.MIN_UPDATES = 1

import train  # noqa: E402

sys.exit(train.main(sys.argv[1:]))
