"""Shared test settings: hypothesis profiles and the path of the shared datasets.

Profiles: ``ci`` (default; modest example counts so the suite stays within minutes on
2 cores) and ``thorough`` (``HYPOTHESIS_PROFILE=thorough pytest``). Deadlines are off:
the first call of a kernel includes Numba's compilation.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
