namespace Platform.Grains.Training;

/// <summary>
/// A host's durable record of the training runs it acknowledged, written before the acknowledgement, for storage that may lose
/// its latest writes in a crash (the embedded default's Azurite). Hosts on durable storage register none.
/// </summary>
public interface ITrainingSubmissionJournal
{
    Task AppendAsync(TrainingRunSpec spec, CancellationToken cancellationToken = default);
}
