namespace Platform.Model.Training.DiLoCo;

/// <summary>
/// A replica's inner state at a round boundary: its trainer's optimiser moments, schedule position and random generators
/// (an ordinary trainer checkpoint, see <see cref="SimVlmTrainer.SaveCheckpoint"/>). With the outer state of the same round
/// it is what makes a whole run resume exactly: the outer weights say where every replica starts, this says how each goes
/// on. One state folder per round at which the run checkpoints (its checkpoint interval, and its end) in the run's exchange,
/// because a replica that joined late has taken fewer steps than the round's number implies; other rounds save nothing, so a
/// restart goes back to the last checkpointed round. A folder exchange takes the trainer's checkpoint straight in; for a blob
/// exchange the trainer saves and resumes in a scratch folder of its own silo.
/// </summary>
public static class ReplicaCheckpoints
{
    /// <summary>Where replica <paramref name="rank"/> keeps its states in a run's exchange.</summary>
    public static string Folder(int rank) => $"replica-{rank}";

    /// <summary>The state folder (see <see cref="DiLoCoExchange.PutStateAsync"/>) of replica <paramref name="rank"/>'s state at the start of <paramref name="round"/>.</summary>
    public static string RoundFolder(int rank, int round) => $"{Folder(rank)}/round-{round:D6}";

    /// <summary>
    /// Saves <paramref name="trainer"/>'s state as the start of <paramref name="round"/> (through <paramref name="scratch"/>, a
    /// folder of this machine, unless the exchange is a folder itself), then deletes the states before the newest one before
    /// it: until the outer state of <paramref name="round"/> is saved, a resume starts from that one.
    /// </summary>
    public static async Task SaveAsync(SimVlmTrainer trainer, DiLoCoExchange exchange, int rank, int round, string scratch, CancellationToken cancellationToken)
    {
        await exchange.PutCheckpointAsync(RoundFolder(rank, round), trainer.SaveCheckpoint, scratch, cancellationToken);
        string rounds = $"{Folder(rank)}/round-";
        var saved = new SortedSet<int>();
        foreach (string name in await exchange.ListAsync(rounds, cancellationToken))
            if (int.TryParse(name.AsSpan(rounds.Length, 6), out int other)) saved.Add(other);
        int previous = saved.GetViewBetween(int.MinValue, round - 1).DefaultIfEmpty(round).Max();
        foreach (int other in saved)
            if (other < previous) await exchange.DeleteAsync($"{RoundFolder(rank, other)}/", cancellationToken);
    }

    /// <summary>
    /// Publishes only the description of <paramref name="trainer"/> (its <see cref="Checkpoint.StateFile"/> and vocabulary, see
    /// <see cref="SimVlmTrainer.SaveDescription"/>) as its state at the start of <paramref name="round"/>: what the run's global
    /// checkpoint of that round takes its configuration and vocabulary from, when nothing resumes from the round (the run's end).
    /// A resume from it finds no weights and starts the replica afresh.
    /// </summary>
    public static Task SaveDescriptionAsync(SimVlmTrainer trainer, DiLoCoExchange exchange, int rank, int round, string scratch, CancellationToken cancellationToken) =>
        exchange.PutCheckpointAsync(RoundFolder(rank, round), directory => Checkpoint.Save(directory, trainer.Step, trainer.SaveDescription), scratch, cancellationToken);

    /// <summary>
    /// Copies the replica's state at the start of <paramref name="round"/> (only <paramref name="files"/> of it, when given) into
    /// <paramref name="localRunDirectory"/> and returns its checkpoint folder there, or null when the replica saved none.
    /// </summary>
    public static async Task<string?> DownloadAsync(DiLoCoExchange exchange, int rank, int round, string localRunDirectory, CancellationToken cancellationToken,
        IReadOnlyCollection<string>? files = null) =>
        await exchange.DownloadLatestStateAsync(RoundFolder(rank, round), localRunDirectory, cancellationToken, files) is { } local ? Checkpoint.Latest(local) : null;

    /// <summary>
    /// The trainer as it stood at the start of <paramref name="round"/>, resumed in <paramref name="scratch"/>, or null when the
    /// replica saved no state for that round (it joined later, was dropped from the round before, or the run starts). The
    /// model's weights are the replica's local ones: the caller writes the round's global weights over them.
    /// </summary>
    public static async Task<SimVlmTrainer?> TryResumeAsync(DiLoCoExchange exchange, int rank, int round, IPrefixLmData data, TrainingOptions options, string scratch,
        CancellationToken cancellationToken)
    {
        string local = Path.Combine(scratch, $"resume-round-{round:D6}");
        try
        {
            if (await DownloadAsync(exchange, rank, round, local, cancellationToken) is null) return null;
            return SimVlmTrainer.Resume(local, data, options with { CheckpointDirectory = null });
        }
        catch (InvalidDataException)
        {
            // Damaged beyond loading: the replica goes on from fresh inner state, as a replacement would.
            return null;
        }
        finally
        {
            LocalScratch.TryDelete(local);
        }
    }
}
