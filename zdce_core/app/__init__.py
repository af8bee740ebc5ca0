"""The application: the ``zdce`` command, batch processing, comparison sheets."""
