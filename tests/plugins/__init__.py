"""Plugin modules the tests load with ``--plugin tests.plugins.<name>`` or ``load_plugin``."""
