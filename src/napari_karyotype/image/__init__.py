"""Image input: read a karyogram file or array into the pipeline's dark-on-light float image."""
