using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

/// <summary>Mutual TLS on the Orleans ports of a real `platform up`: a client with the cluster's certificate gets in, others do not.</summary>
public sealed class ClusterTlsTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("cluster-tls-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string WriteCertificate(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var path = Path.Combine(root, name + ".pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx, "secret"));
        return path;
    }

    private static Dictionary<string, string> Tls(string? certificate) => certificate is null
        ? []
        : new() { ["PLATFORM_Clustering__TlsCertificate"] = certificate, ["PLATFORM_Clustering__TlsCertificatePassword"] = "secret" };

    [Fact]
    public async Task Only_clients_presenting_the_cluster_certificate_reach_the_grains()
    {
        var cluster = WriteCertificate("simvlm-cluster");
        var stranger = WriteCertificate("stranger");
        await using var platform = await RunningPlatform.StartAsync(new Dictionary<string, string>(Tls(cluster)) { ["PLATFORM_Training__Devices"] = "cpu" });

        var trusted = await platform.RunWithAsync(Tls(cluster), "devices");
        Assert.True(trusted.ExitCode == 0, trusted.Stderr);
        Assert.Contains("cpu:0", trusted.Stdout);

        // A client without TLS fails the same way (its plain bytes are not a TLS handshake). Refused, a client would retry for about
        // three minutes; it gives up after Clustering:ClientConnectTimeout, with one line saying what to check.
        var refused = await platform.RunWithAsync(new Dictionary<string, string>(Tls(stranger)) { ["PLATFORM_Clustering__ClientConnectTimeout"] = "00:00:20" }, "devices");
        Assert.True(refused.ExitCode == 1, $"a client with another certificate exited with {refused.ExitCode}: {refused.Stdout}{refused.Stderr}");
        Assert.DoesNotContain("cpu:0", refused.Stdout);
        // Refused at the TLS handshake (the client's log, on its standard error), not for want of a listening gateway.
        Assert.Contains("The remote certificate was rejected", refused.Stderr);
        Assert.Equal("", refused.Stdout);
        Assert.Single(PlatformCommand.OwnLines(refused.Stderr));
        Assert.Contains($"Could not reach the gateway at 127.0.0.1:{platform.GatewayPort} in 00:00:20", refused.Stderr);
        Assert.DoesNotContain("Unhandled exception", refused.Stderr);

        var unreadable = await platform.RunWithAsync(new Dictionary<string, string> { ["PLATFORM_Clustering__TlsCertificate"] = Path.Combine(root, "missing.pfx") }, "devices");
        Assert.Equal(2, unreadable.ExitCode);
        Assert.Contains("Clustering:TlsCertificate", unreadable.Stderr);
    }
}
