using Platform.Model;
using Platform.Model.Tests;
using static TorchSharp.torch;

namespace Platform.Benchmarks.Tests;

/// <summary>
/// A trainer in the same process keeps its own random stream in libtorch's default generator while it is entered, under
/// <see cref="TorchRandomStream"/>'s lock. A benchmark that seeded or drew from that generator without the lock changed
/// what a concurrent run learned: the train-cluster benchmark's two runs once ended with weights 1.49 apart in CI.
/// Each case holds the lock as a trainer would and checks that the benchmark leaves the generator alone until it is released.
/// </summary>
public sealed class DefaultGeneratorLockTests
{
    public static TheoryData<string> Benchmarks => ["decode", "retrieval", "matmul-probe"];

    [Theory]
    [MemberData(nameof(Benchmarks))]
    public void A_benchmark_leaves_the_default_generator_alone_while_a_trainer_holds_it(string benchmark)
    {
        Action run = benchmark switch
        {
            "decode" => () => DecodeBenchmark.Run(TestModels.Micro, images: 2, captionTokens: 4, rounds: 1, threads: 1, seed: 11),
            "retrieval" => () => RetrievalBenchmark.Run(TestModels.Micro, images: 2, captionsPerImage: 2, rounds: 1, threads: 1, seed: 11),
            _ => () => TrainingBenchmark.MatmulPeak(CPU, 64, repeats: 1),
        };
        Exception? failure = null;
        // A thread of its own, joined rather than awaited: the lock belongs to the test's thread, which must not change.
        var running = new Thread(() =>
        {
            try { run(); }
            catch (Exception e) { failure = e; }
        });
        using (TorchRandomStream.EnterDefault())
        {
            manual_seed(12345);
            byte[] before = GeneratorState();
            running.Start();
            // Long enough for an unlocked seed or draw to happen; the benchmark must instead wait for the lock.
            bool finished = running.Join(TimeSpan.FromSeconds(2));
            Assert.Equal(before, GeneratorState());
            Assert.False(finished, "the benchmark finished without waiting for the generator's lock");
        }
        Assert.True(running.Join(TimeSpan.FromMinutes(2)), "the benchmark did not finish once the lock was free");
        Assert.Null(failure);
    }

    private static byte[] GeneratorState()
    {
        using var state = get_rng_state();
        return state.data<byte>().ToArray();
    }
}
