"""The archive: where de-identified instances are stored (storage keys, files) and read back."""
