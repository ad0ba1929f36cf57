using Microsoft.Extensions.Configuration;
using Platform.Silo.Hosting;

namespace Platform.Tests;

/// <summary>`Clustering:ClientConnectTimeout`, how long a client command tries to reach a gateway, as the host reads and checks it.</summary>
public sealed class ClientConnectTimeoutSettingTests
{
    private static PlatformConfiguration Load(string? timeout) =>
        PlatformConfiguration.Load(new ConfigurationBuilder().AddInMemoryCollection(timeout is null ? [] : new Dictionary<string, string?>
        {
            ["Clustering:ClientConnectTimeout"] = timeout,
        }).Build());

    [Fact]
    public void A_client_tries_for_a_minute_unless_the_setting_says_otherwise()
    {
        Assert.Equal(TimeSpan.FromMinutes(1), Load(null).Clustering.ClientConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(20), Load("00:00:20").Clustering.ClientConnectTimeout);
    }

    [Fact]
    public void A_timeout_of_zero_is_refused_naming_the_setting_and_its_variable()
    {
        var refused = Assert.Throws<PlatformConfigurationException>(() => Load("00:00:00"));
        Assert.Contains(refused.Problems, p => p.StartsWith(
            "Clustering:ClientConnectTimeout (environment variable PLATFORM_Clustering__ClientConnectTimeout) = 00:00:00 must be positive", StringComparison.Ordinal));
    }
}
