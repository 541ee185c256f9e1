"""Models of the imaging app (submissions, studies, series, instances, QC, queries)."""
