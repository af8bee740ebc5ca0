"""Image maths at inference: curve-map estimation, rendering, exposure guards, noise suppression."""
