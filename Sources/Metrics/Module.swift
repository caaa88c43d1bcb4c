// Metrics module: the paper's evaluation networks (LPIPS, FID/KID Inception-v3, fer's emotion classifier)
// and a lip-sync proxy. See docs/METRICS.md.
import Torch
