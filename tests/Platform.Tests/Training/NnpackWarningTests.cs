using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>
/// libtorch asks NNPACK about a convolution it could hand it (one thread, a small batch, a 1x1 kernel: the conv stage's projection to
/// the width), and on a CPU NNPACK does not support prints a warning for every such convolution; the platform turns NNPACK off.
/// </summary>
public sealed class NnpackWarningTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("nnpack-warning-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task A_short_training_run_on_one_cpu_thread_prints_no_nnpack_line()
    {
        var shard = await TrainResumeCommandTests.WriteShardAsync(root);
        var result = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(3),
            ["train", "--data", shard, "--preset", "tiny", "--steps", "2", "--batch", "2", "--warmup", "1", "--threads", "1", "--device", "cpu",
                "--out", Path.Combine(root, "run")]);

        Assert.True(result.ExitCode == 0, result.StandardError);
        Assert.Contains("finished step=2", result.StandardOutput);
        Assert.DoesNotContain("NNPACK", result.StandardError);
        Assert.DoesNotContain("NNPACK", result.StandardOutput);
    }
}
