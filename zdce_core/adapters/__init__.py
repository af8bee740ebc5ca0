"""Host adapters: hook specifications, the plug-in manager, helpers every adapter shares."""
