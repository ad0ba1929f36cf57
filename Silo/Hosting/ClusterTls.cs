using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;

namespace Platform.Silo.Hosting;

/// <summary>
/// Mutual TLS on the Orleans silo and gateway ports (<see cref="ClusteringSettings.TlsCertificate"/>): every silo and
/// client presents the cluster's certificate and accepts a peer only if it presents the same one, so a process without
/// the certificate's private key can neither join the cluster nor call its grains, and nothing crosses the network in clear.
/// </summary>
public static class ClusterTls
{
    /// <summary>The cluster certificate, or null when TLS is off (settings are validated first, so a bad file stops the program before this).</summary>
    public static X509Certificate2? Load(ClusteringSettings clustering) =>
        Problem(clustering, out var certificate) is { } problem ? throw new PlatformConfigurationException([problem]) : certificate;

    /// <summary>What is wrong with <see cref="ClusteringSettings.TlsCertificate"/> in words for the user, or null (then <paramref name="certificate"/> is loaded, or null when TLS is off).</summary>
    public static string? Problem(ClusteringSettings clustering, out X509Certificate2? certificate)
    {
        certificate = null;
        if (string.IsNullOrWhiteSpace(clustering.TlsCertificate)) return null;
        try
        {
            var loaded = X509CertificateLoader.LoadPkcs12FromFile(clustering.TlsCertificate, clustering.TlsCertificatePassword);
            if (!loaded.HasPrivateKey)
            {
                loaded.Dispose();
                return Described(clustering, "it holds no private key (export the certificate with its key, as a .pfx/.p12).");
            }
            certificate = loaded;
            return null;
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            return Described(clustering, e.Message);
        }
    }

    private static string Described(ClusteringSettings clustering, string why) =>
        $"{SettingsValidation.Name(ClusteringSettings.Section, nameof(ClusteringSettings.TlsCertificate))} = '{clustering.TlsCertificate}' cannot be used: {why}";

    public static void Configure(TlsOptions options, X509Certificate2 certificate)
    {
        options.LocalCertificate = certificate;
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        // The cluster's own (often self-signed) certificate is the trust anchor: the peer must present exactly it.
        options.RemoteCertificateValidation = (remote, _, _) => remote is not null
            && string.Equals(remote.GetCertHashString(), certificate.GetCertHashString(), StringComparison.OrdinalIgnoreCase);
        options.OnAuthenticateAsClient = (_, client) => client.TargetHost = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
    }
}
