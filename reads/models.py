"""Models of the reads app (read design, cases, tasks, lesions, adjudication)."""
