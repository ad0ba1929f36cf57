namespace Platform.Tests.Training;

/// <summary>
/// Tests that compare a scheduled run's weights with a run trained in this process. libtorch's seed and random generator
/// are global to the process, so another test training at the same moment would change these runs' initialisation: these
/// tests run alone, with no other test in parallel.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ExactWeightsCollection
{
    public const string Name = "exact weights";
}
