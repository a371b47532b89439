"""Studies built on the pipeline: granularity, storage and the real-data study."""
