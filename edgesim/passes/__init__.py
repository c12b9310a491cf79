"""Graph -> Graph passes, applied in the order listed by ``pipeline.run_pipeline``."""
