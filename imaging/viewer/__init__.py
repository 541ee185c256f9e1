"""The image viewer: its pages, the frame and thumbnail endpoints, and what they share with DICOMweb."""
