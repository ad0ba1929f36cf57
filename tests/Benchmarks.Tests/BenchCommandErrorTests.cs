using Platform.Tests.Infrastructure;

namespace Platform.Benchmarks.Tests;

/// <summary>
/// Every `platform bench` command as a person runs it with bad arguments (numbers out of range, an unknown preset, a file
/// that is not there): one line on stderr naming the command, the option and what to give, exit code 2, and no
/// "Unhandled exception" or stack trace; nothing is measured.
/// </summary>
public sealed class BenchCommandErrorTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("bench-errors-").FullName;

    /// <summary>Each case: the command line (FILES/ stands for a fresh temporary folder) and words the one line must hold.</summary>
    public static TheoryData<string[], string> Cases => new()
    {
        { ["bench", "extract", "FILES/missing.warc.gz"], "bench extract: No such file: FILES/missing.warc.gz" },
        { ["bench", "extract", "FILES/dump.warc.gz", "--generate-mb", "0"], "bench extract: --generate-mb must be 1 or more, not 0" },
        { ["bench", "train", "--preset", "giant"], "bench train: --preset: unknown preset 'giant'; give one of tiny, base, large, huge" },
        { ["bench", "train", "--steps", "0"], "bench train: --steps must be 1 or more, not 0" },
        { ["bench", "images", "--count", "0"], "bench images: --count must be 1 or more, not 0" },
        { ["bench", "images", "--max-cores", "-1"], "bench images: --max-cores must be 1 or more, not -1" },
        { ["bench", "ingest-cluster", "--rounds", "0", "--work", "FILES/ingest"], "bench ingest-cluster: --rounds must be 1 or more, not 0" },
        { ["bench", "ingest-cluster", "--files", "0", "--work", "FILES/ingest"], "bench ingest-cluster: --files must be 1 or more, not 0" },
        { ["bench", "train-cluster", "--preset", "giant", "--work", "FILES/train"], "bench train-cluster: --preset: unknown preset 'giant'" },
        { ["bench", "train-cluster", "--steps", "0", "--work", "FILES/train"], "bench train-cluster: --steps must be 1 or more, not 0" },
        { ["bench", "decode", "--images", "0"], "bench decode: --images must be 1 or more, not 0" },
        { ["bench", "decode", "--preset", "giant"], "bench decode: --preset: unknown preset 'giant'" },
        { ["bench", "decode", "--tokens", "40"], "bench decode: Captions of 40 tokens do not fit the model's 32 text positions" },
        { ["bench", "retrieval", "--images", "0"], "bench retrieval: --images must be 1 or more, not 0" },
        { ["bench", "retrieval", "--batch-size", "0"], "bench retrieval: --batch-size must be 1 or more, not 0" },
        { ["bench", "tokenizer", "--vocab", "10"], "bench tokenizer: --vocab must be 260 or more, not 10" },
        { ["bench", "tokenizer", "--texts", "0"], "bench tokenizer: --texts must be 1 or more, not 0" },
        { ["bench", "train-scale", "--preset", "giant"], "bench train-scale: --preset: unknown preset 'giant'" },
        { ["bench", "train-scale", "--sync-every", "0"], "bench train-scale: --sync-every must be 1 or more, not 0" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_arguments_get_one_line_saying_what_to_give_and_exit_code_2(string[] arguments, string expected)
    {
        string Fill(string text) => text.Replace("FILES/", folder + "/");
        var result = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(3), [.. arguments.Select(Fill)]);

        string[] lines = result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string shown = $"platform {string.Join(' ', arguments)}: exit code {result.ExitCode}\n{result.StandardOutput}\n{result.StandardError}";
        Assert.True(result.ExitCode == 2, shown);
        Assert.True(lines.Length == 1, shown);
        Assert.Contains(Fill(expected), lines[0]);
        foreach (var output in new[] { result.StandardOutput, result.StandardError })
        {
            Assert.DoesNotContain("Unhandled exception", output);
            Assert.DoesNotContain("   at ", output);
        }
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
