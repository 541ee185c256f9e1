"""Every write of the imaging app. Split by aggregate; import from here."""
