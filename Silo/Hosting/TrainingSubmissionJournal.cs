using Platform.Grains.Training;

namespace Platform.Silo.Hosting;

/// <summary>
/// The embedded default's local record of acknowledged training runs, as <see cref="SubmissionJournal"/> is of ingest jobs: one JSON
/// line per run, flushed to disk before `train submit` or `POST /api/train/runs` is answered. At start every journaled run the
/// scheduler no longer knows (not queued, running or in its archive) is submitted again, and trains from its latest checkpoint on
/// disk, if any. Off (null folder) where storage is a real account.
/// </summary>
public sealed class TrainingSubmissionJournal(string? folder) : ITrainingSubmissionJournal
{
    public const string TrainingFile = "training-submissions.jsonl";

    private readonly JournalFile? file = folder is null ? null : new JournalFile(folder, TrainingFile);

    public bool IsOn => file is not null;

    /// <summary>Appends the run and returns once it is on disk.</summary>
    public Task AppendAsync(TrainingRunSpec spec, CancellationToken cancellationToken = default) =>
        file?.AppendAsync([spec with { TextDocuments = spec.TextDocuments.ToArray(), Evaluations = spec.Evaluations?.ToArray() }], cancellationToken)
        ?? Task.CompletedTask;

    /// <summary>The journaled runs, the latest per run id; a line cut short by a crash (never acknowledged) is skipped.</summary>
    public IReadOnlyList<TrainingRunSpec> Read()
    {
        return file?.ReadLatest<TrainingRunSpec>(spec => spec.RunId) ?? [];
    }
}
