using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Platform.Silo.Hosting;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Devices;

/// <summary>`platform devices` and `GET /api/devices` against a real `platform up`.</summary>
public sealed class DevicesCommandTests
{
    [Fact]
    public async Task Platform_devices_and_the_api_list_the_two_cpu_slots_of_a_platform_up_told_cpu_cpu()
    {
        await using var platform = await RunningPlatform.StartAsync(new Dictionary<string, string> { ["PLATFORM_Training__Devices"] = "cpu,cpu" });

        // The silo reads its own metadata through its metadata cache, which fills in just after it joins.
        JsonElement[] devices = [];
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (devices.Length < 2 && DateTime.UtcNow < deadline)
        {
            using var response = await platform.Http.GetAsync("/api/devices", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            devices = json.RootElement.GetProperty("devices").EnumerateArray().Select(d => d.Clone()).ToArray();
            if (devices.Length < 2) await Task.Delay(200, TestContext.Current.CancellationToken);
        }

        Assert.Equal(["cpu:0", "cpu:1"], devices.Select(d => d.GetProperty("id").GetString()));
        Assert.All(devices, d =>
        {
            Assert.Equal("cpu", d.GetProperty("kind").GetString());
            Assert.True(d.GetProperty("memoryBytes").GetInt64() > 0);
            Assert.False(string.IsNullOrEmpty(d.GetProperty("name").GetString()));
            Assert.Equal(JsonValueKind.Null, d.GetProperty("heldByRun").ValueKind);
        });
        Assert.Single(devices.Select(d => d.GetProperty("silo").GetString()).Distinct());

        var (exitCode, stdout, stderr) = await platform.RunAsync("devices");

        Assert.True(exitCode == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("SILO", lines[0]);
        var silo = devices[0].GetProperty("silo").GetString()!;
        Assert.Contains(silo, lines[1]);
        Assert.Contains(" cpu:0 ", lines[1]);
        Assert.Contains(" cpu:1 ", lines[2]);
    }

    [Fact]
    public async Task Up_with_a_bad_device_list_exits_with_code_2_naming_the_setting_and_its_variable()
    {
        await using var platform = PlatformProcess.StartUp(new Dictionary<string, string> { ["PLATFORM_Training__Devices"] = "cpu,gpu" });
        using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await platform.Process.WaitForExitAsync(exited.Token);

        Assert.Equal(2, platform.Process.ExitCode);
        Assert.Contains("Training:Devices (environment variable PLATFORM_Training__Devices) = 'cpu,gpu' has 'gpu', which is not a device", platform.Output);
        Assert.Null(platform.StartedAzuritePid());
    }

    [Fact]
    public void A_cuda_device_that_libtorch_does_not_find_stops_the_host_naming_the_setting()
    {
        var configuration = PlatformConfiguration.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Training:Devices"] = "cpu,cuda:0" }).Build());

        // This machine's TorchSharp is the CPU bundle, so libtorch finds no CUDA device whatever the hardware.
        var error = Assert.Throws<PlatformConfigurationException>(() => configuration.ResolveTrainingDevices(out _));

        Assert.Contains("Training:Devices (environment variable PLATFORM_Training__Devices) = 'cpu,cuda:0' names cuda:0, but libtorch finds no CUDA device here", error.Message);
    }
}
