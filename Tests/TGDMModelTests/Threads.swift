import Torch

/// These tests use small tensors. On the shared 2-core machine libtorch's OpenMP workers spin-wait for each
/// other, which made a 2-thread forward pass of the tiny UNet ~30× slower than a 1-thread one (measured:
/// 0.7 s vs 0.024 s), so the tests run libtorch single-threaded.
func useOneThread() { Torch.configureThreads(1) }
