using System.Diagnostics;
using System.Text.Json;

namespace Platform.Model.Tests.Build;

/// <summary>
/// The build switch between libtorch bundles (Model/Platform.Model.csproj's TorchBackend), read from
/// MSBuild's evaluation of the project: nothing is restored, so the CUDA bundle, which this machine's
/// package source does not serve, is never fetched.
/// </summary>
public sealed class TorchBackendSwitchTests
{
    private const string CpuBundle = "TorchSharp-cpu", CudaBundle = "TorchSharp-cuda-linux";

    private static readonly string Root = FindRoot();

    private static string ModelProject => Path.Combine(Root, "Model", "Platform.Model.csproj");

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "Directory.Packages.props"))) return folder.FullName;
        throw new InvalidOperationException($"No Directory.Packages.props above {AppContext.BaseDirectory}.");
    }

    private static (int ExitCode, string Output) MsBuild(params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in new[] { "msbuild", ModelProject, "-nologo", "-nodeReuse:false" }.Concat(arguments)) start.ArgumentList.Add(argument);
        // The test host's own MSBuild settings (set by `dotnet test`) must not steer the evaluation.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToArray()) start.Environment.Remove(name);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }

    private static JsonElement Items(string item, params string[] properties)
    {
        var (exitCode, output) = MsBuild([$"-getItem:{item}", .. properties]);
        Assert.True(exitCode == 0, output);
        return JsonDocument.Parse(output).RootElement.GetProperty("Items").GetProperty(item);
    }

    private static string[] PackageReferences(params string[] properties) =>
        Items("PackageReference", properties).EnumerateArray().Select(i => i.GetProperty("Identity").GetString()!).ToArray();

    [Fact]
    public void DefaultBuildReferencesTheCpuBundle()
    {
        var references = PackageReferences();
        Assert.Contains(CpuBundle, references);
        Assert.DoesNotContain(CudaBundle, references);
    }

    [Fact]
    public void CudaSwitchReferencesTheCudaBundleInsteadWithoutRestoringIt()
    {
        string assets = Path.Combine(Root, "Model", "obj", "project.assets.json");
        DateTime? restoredAt = File.Exists(assets) ? File.GetLastWriteTimeUtc(assets) : null;

        var cuda = PackageReferences("-p:TorchBackend=cuda");
        var cpu = PackageReferences("-p:TorchBackend=cpu");

        Assert.Contains(CudaBundle, cuda);
        Assert.DoesNotContain(CpuBundle, cuda);
        Assert.Equal(PackageReferences(), cpu);
        // Everything else the model needs stays the same.
        Assert.Equal(cpu.Where(p => p != CpuBundle), cuda.Where(p => p != CudaBundle));
        Assert.Equal(restoredAt, File.Exists(assets) ? File.GetLastWriteTimeUtc(assets) : null);
    }

    [Fact]
    public void BothBundlesArePinnedToOneTorchSharpVersion()
    {
        var versions = Items("PackageVersion").EnumerateArray()
            .ToDictionary(i => i.GetProperty("Identity").GetString()!, i => i.GetProperty("Version").GetString());
        Assert.Equal(versions["TorchSharp"], versions[CpuBundle]);
        Assert.Equal(versions["TorchSharp"], versions[CudaBundle]);
    }

    [Fact]
    public void AnUnknownBackendIsAnError()
    {
        var (exitCode, output) = MsBuild("-t:CollectPackageReferences", "-p:TorchBackend=rocm");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("TorchBackend 'rocm' is unknown", output);
    }
}
