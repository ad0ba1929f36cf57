using Platform.Grains.Training;
using Platform.Silo.Hosting;

namespace Platform.Tests.Hosting;

public sealed class TrainingSubmissionJournalTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("training-journal-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public async Task A_journaled_run_reads_back_whole_the_latest_per_run_id_and_a_line_cut_short_by_a_crash_is_skipped()
    {
        var journal = new TrainingSubmissionJournal(folder);
        var full = new TrainingRunSpec
        {
            RunId = "run-a", Dataset = "web", TextDocuments = ["/data/text.jsonl"], Preset = "base", Steps = 77, SamplesPerStep = 5, PeakLearningRate = 3e-4,
            WarmupSteps = 7, Precision = "bf16", Seed = 9, ImageTextRatio = 3, TextOnlyRatio = 2, Devices = 2, DeviceKind = "cuda", Priority = 4,
            CheckpointEvery = 11, CheckpointLocation = "/ckpt/run-a", Retention = new CheckpointRetentionPolicy { KeepLast = 2, KeepEvery = 50 },
            Evaluations = [new RunEvaluation("vqa", "/bench", "val", "Q:", 3, 12, "cpu")], Tokenizer = "gpt2", Threads = 1, ShuffleBuffer = 64,
            Trainers = 2, SyncEvery = 20, OuterLearningRate = 0.5, OuterMomentum = 0.8, SyncPrecision = "bf16", Prefetch = 2,
        };
        await journal.AppendAsync(new TrainingRunSpec { RunId = "run-a", Dataset = "old" }, TestContext.Current.CancellationToken);
        await journal.AppendAsync(full, TestContext.Current.CancellationToken);
        await journal.AppendAsync(new TrainingRunSpec { RunId = "run-b", Dataset = "web", Evaluations = null }, TestContext.Current.CancellationToken);
        // A crash in the middle of an append that was never acknowledged.
        await File.AppendAllTextAsync(Path.Combine(folder, TrainingSubmissionJournal.TrainingFile), "{\"runId\":\"run-c\",\"data", TestContext.Current.CancellationToken);

        var read = new TrainingSubmissionJournal(folder).Read().ToDictionary(spec => spec.RunId);

        Assert.Equal(["run-a", "run-b"], read.Keys.Order());
        var back = read["run-a"];
        // Records compare their lists by reference: the lists apart, then the rest.
        Assert.Equal(full.TextDocuments, back.TextDocuments);
        Assert.Equal(full.Evaluations, back.Evaluations);
        Assert.Equal(full with { TextDocuments = [], Evaluations = null }, back with { TextDocuments = [], Evaluations = null });
        Assert.Null(read["run-b"].Evaluations);
    }

    [Fact]
    public async Task Off_without_a_folder_it_keeps_nothing()
    {
        var journal = new TrainingSubmissionJournal(null);
        Assert.False(journal.IsOn);
        await journal.AppendAsync(new TrainingRunSpec { RunId = "run-a", Dataset = "web" }, TestContext.Current.CancellationToken);
        Assert.Empty(journal.Read());
    }
}
