"""Training: tile folders, the rate–distortion objective, the codec trainer."""
