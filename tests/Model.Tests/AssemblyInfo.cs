// libtorch's thread count is process-wide (trainers set it) and several tests compare results bit for
// bit (causal masking, resume); running test classes one at a time keeps every computation's
// thread layout the same. libtorch already uses every core within a test.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
