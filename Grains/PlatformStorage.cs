namespace Platform.Grains;

/// <summary>Names of the storage providers that grains use; hosts and test clusters register them under these names.</summary>
public static class PlatformStorage
{
    /// <summary>Azure Table grain storage for small grain state.</summary>
    public const string GrainStateProvider = "platform";
}
