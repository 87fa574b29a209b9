"""Media: decoding of real videos (the sampled frames at a fixed fps + the audio track), with the reader chosen among those installed."""
