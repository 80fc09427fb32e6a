"""This package's tests take sleepfm's ``shared`` fixture: the reference folder beside the sleepfm
checkout (``../shared``) or ``$SLEEPFM_SHARED``; tests that need it skip when it is absent."""

from sleepfm.testing import shared  # noqa: F401  (the fixture)
