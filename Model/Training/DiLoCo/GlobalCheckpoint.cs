using static TorchSharp.torch;

namespace Platform.Model.Training.DiLoCo;

/// <summary>
/// A multi-trainer run's checkpoint as the rest of the platform reads one: a trainer checkpoint folder of the run's
/// directory whose model holds the global (outer) weights at a round boundary, so evaluations, the leaderboard, export and
/// <c>model info</c> treat it like a single trainer's. Configuration and vocabulary come from a replica's state of the same
/// boundary; the optimiser file is left out, since no single replica's moments belong to the global weights (a run resumes
/// from its outer state and replica states, not from here).
/// </summary>
public static class GlobalCheckpoint
{
    /// <summary>Whether a round ending at <paramref name="step"/> (H steps long) saves a checkpoint: it crossed a multiple of <paramref name="every"/>, or ends the run.</summary>
    public static bool IsDue(int step, int syncEvery, int every, int lastStep) =>
        step >= lastStep || (every > 0 && step / every > (step - syncEvery) / every);

    /// <summary>
    /// Whether the run of <paramref name="rounds"/> rounds checkpoints at the start of <paramref name="round"/>, as
    /// <see cref="IsDue"/> decides: the round boundaries at which the coordinator saves its outer state and the replicas their
    /// inner states, so that a run resumes from the last of them.
    /// </summary>
    public static bool IsDueAtRound(int round, int syncEvery, int every, int rounds) =>
        IsDue(round * syncEvery, syncEvery, every, rounds * syncEvery);

    /// <summary>Writes the checkpoint of <paramref name="step"/> into <paramref name="runDirectory"/> (published atomically) and returns its folder.</summary>
    /// <param name="source">
    /// The state of a replica that took part in the round, at the start of the round the weights start (see
    /// <see cref="ReplicaCheckpoints.DownloadAsync"/>): it supplies configuration and vocabulary.
    /// </param>
    public static string Save(string runDirectory, int step, string source, IReadOnlyList<NamedArray> weights)
    {
        var state = Checkpoint.ReadState(source) with { Step = step };
        using var scope = NewDisposeScope();
        using var model = new SimVlmModel(state.Config);
        NamedWeights.Write(model, weights);
        return Checkpoint.Save(runDirectory, step, folder =>
        {
            model.save(Path.Combine(folder, Checkpoint.ModelFile));
            File.Copy(Path.Combine(source, Checkpoint.VocabularyFile), Path.Combine(folder, Checkpoint.VocabularyFile));
            Checkpoint.WriteState(folder, state);
        });
    }
}
