using Microsoft.Extensions.Configuration;
using Platform.Silo.Hosting;

namespace Platform.Tests.Deploy;

/// <summary>`Clustering:Kubernetes`, the switch deploy/k8s sets, as the host reads and checks it.</summary>
public sealed class KubernetesSettingTests
{
    private static PlatformConfiguration Load(string mode) =>
        PlatformConfiguration.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Clustering:Mode"] = mode,
            ["Clustering:Kubernetes"] = "true",
        }).Build());

    [Fact]
    public void Kubernetes_hosting_with_azure_table_membership_is_read_from_the_setting()
    {
        Assert.True(Load("AzureTable").Clustering.Kubernetes);
    }

    [Fact]
    public void Kubernetes_hosting_without_a_shared_membership_table_is_refused_naming_the_setting_and_its_variable()
    {
        var refused = Assert.Throws<PlatformConfigurationException>(() => Load("Localhost"));
        Assert.Contains(refused.Problems, p => p.StartsWith("Clustering:Kubernetes (environment variable PLATFORM_Clustering__Kubernetes) is true but Mode is Localhost", StringComparison.Ordinal));
    }
}
