namespace Platform.Model.Training.DiLoCo;

/// <summary>
/// A replica's inner state at a round boundary: its trainer's optimiser moments, schedule position and random generators
/// (an ordinary trainer checkpoint, see <see cref="SimVlmTrainer.SaveCheckpoint"/>). With the outer state of the same round
/// it is what makes a whole run resume exactly: the outer weights say where every replica starts, this says how each goes
/// on. One folder per round, because a replica that joined late has taken fewer steps than the round's number implies.
/// </summary>
public static class ReplicaCheckpoints
{
    /// <summary>Where replica <paramref name="rank"/> keeps its states in a run's exchange folder.</summary>
    public static string Folder(string exchange, int rank) => Path.Combine(exchange, $"replica-{rank}");

    private static string RoundFolder(string replicaFolder, int round) => Path.Combine(replicaFolder, $"round-{round:D6}");

    /// <summary>
    /// Saves <paramref name="trainer"/>'s state as the start of <paramref name="round"/>, then deletes the states before
    /// <paramref name="round"/> − 1: until the outer step of <paramref name="round"/> is saved, a resume starts the round before.
    /// </summary>
    public static void Save(SimVlmTrainer trainer, string replicaFolder, int round)
    {
        trainer.SaveCheckpoint(RoundFolder(replicaFolder, round));
        foreach (string folder in Directory.GetDirectories(replicaFolder, "round-*"))
            if (int.TryParse(Path.GetFileName(folder).AsSpan("round-".Length), out int saved) && saved < round - 1)
                Directory.Delete(folder, recursive: true);
    }

    /// <summary>The checkpoint folder of the replica's state at the start of <paramref name="round"/>, or null when it saved none.</summary>
    public static string? StateFolder(string replicaFolder, int round) => Checkpoint.Latest(RoundFolder(replicaFolder, round));

    /// <summary>
    /// The trainer as it stood at the start of <paramref name="round"/>, or null when the replica saved no state for that
    /// round (it joined later, was dropped from the round before, or the run starts). The model's weights are the replica's
    /// local ones: the caller writes the round's global weights over them.
    /// </summary>
    public static SimVlmTrainer? TryResume(string replicaFolder, int round, IPrefixLmData data, TrainingOptions options)
    {
        string folder = RoundFolder(replicaFolder, round);
        if (Checkpoint.NewestFirst(folder).Count == 0) return null;
        try
        {
            return SimVlmTrainer.Resume(folder, data, options with { CheckpointDirectory = null });
        }
        catch (InvalidDataException)
        {
            // Damaged beyond loading: the replica goes on from fresh inner state, as a replacement would.
            return null;
        }
    }
}
