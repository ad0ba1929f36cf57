using System.Net;
using System.Net.Http.Json;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

/// <summary>
/// A real `platform up` facing requests it must not trust: foreign Host headers (DNS rebinding), forwarded client
/// addresses from anyone but its configured proxy, and API paths outside its roots.
/// </summary>
public sealed class WebExposureTests(WebExposureTests.Platform shared) : IClassFixture<WebExposureTests.Platform>
{
    /// <summary>One platform for every case: starting one takes many seconds.</summary>
    public sealed class Platform : IAsyncLifetime
    {
        internal RunningPlatform Running { get; private set; } = null!;
        public string Root { get; } = Directory.CreateTempSubdirectory("web-exposure-").FullName;

        public async ValueTask InitializeAsync() =>
            Running = await RunningPlatform.StartAsync(new Dictionary<string, string> { ["PLATFORM_Web__TrustedProxies"] = "127.0.0.1" });

        public async ValueTask DisposeAsync()
        {
            await Running.DisposeAsync();
            Directory.Delete(Root, recursive: true);
        }
    }

    private RunningPlatform platform => shared.Running;
    private string root => shared.Root;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<HttpStatusCode> GetAsync(string path, string? host = null, string? forwardedFor = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (host is not null) request.Headers.Host = host;
        if (forwardedFor is not null) request.Headers.Add("X-Forwarded-For", forwardedFor);
        using var response = await platform.Http.SendAsync(request, Ct);
        return response.StatusCode;
    }

    [Fact]
    public async Task Foreign_hosts_are_refused_and_only_a_trusted_proxy_forwards_the_client_address()
    {
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/api/devices"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/api/devices", host: "localhost:5080"));
        // A rebinding page's name is not one the platform answers to, on any path.
        Assert.Equal(HttpStatusCode.BadRequest, await GetAsync("/api/devices", host: "attacker.example"));
        Assert.Equal(HttpStatusCode.BadRequest, await GetAsync("/hangfire", host: "attacker.example"));
        // Through the trusted proxy: the forwarded client decides, not the proxy's loopback address.
        Assert.Equal(HttpStatusCode.Forbidden, await GetAsync("/api/devices", forwardedFor: "203.0.113.9"));
        Assert.Equal(HttpStatusCode.Forbidden, await GetAsync("/orleans", forwardedFor: "203.0.113.9"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/api/devices", forwardedFor: "127.0.0.1"));
    }

    public static TheoryData<string, string> OutOfBoundsSubmissions => new()
    {
        { """{"inputs":["/dev/zero"],"output":"OUT"}""", "inputs" },
        { """{"inputs":["/etc/hostname"],"output":"OUT"}""", "inputs" },
        { """{"inputs":["LINK"],"output":"OUT"}""", "inputs" },
        { """{"inputs":["EMPTY"],"output":"OUT"}""", "inputs" },
        { """{"inputs":["DUMP"],"output":"/etc/platform-out"}""", "output" },
        { """{"inputs":["DUMP"],"output":"OUT","dataset":"d","datasetLocation":"/etc/platform-dataset"}""", "datasetLocation" },
        { """{"inputs":["DUMP"],"output":"OUTLINK/sub"}""", "output" },
        { """{"inputs":["DUMP"],"output":"OUT","job":"../../escape"}""", "job" },
    };

    [Theory]
    [MemberData(nameof(OutOfBoundsSubmissions))]
    public async Task An_ingest_post_pointing_outside_the_api_roots_is_refused_before_anything_is_queued(string body, string field)
    {
        var dump = Path.Combine(root, "dump.warc");
        File.WriteAllText(dump, "WARC/1.1\r\n");
        var empty = Path.Combine(root, "empty.warc");
        File.WriteAllText(empty, "");
        var link = Path.Combine(root, "link.warc");
        if (!File.Exists(link)) File.CreateSymbolicLink(link, "/etc/hostname");
        var outLink = Path.Combine(root, "out-link");
        if (!Directory.Exists(outLink)) Directory.CreateSymbolicLink(outLink, "/etc");
        body = body.Replace("OUTLINK", outLink).Replace("OUT", Path.Combine(root, "out")).Replace("DUMP", dump).Replace("LINK", link).Replace("EMPTY", empty);

        using var response = await platform.Http.PostAsync("/api/ingest/jobs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), Ct);
        var problem = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out var messages), problem.ToString());
        Assert.False(Directory.Exists("/etc/platform-out"));
        Assert.NotEmpty(messages.EnumerateArray());
    }

    public static TheoryData<string, string> OutOfBoundsRuns => new()
    {
        { """{"dataset":"d","textDocuments":["/etc/hostname"]}""", "textDocuments" },
        { """{"dataset":"d","textDocuments":["LINK"]}""", "textDocuments" },
        { """{"dataset":"d","checkpointLocation":"/etc/platform-checkpoints"}""", "checkpointLocation" },
        { """{"dataset":"d","checkpointLocation":"OUTLINK/run"}""", "checkpointLocation" },
        { """{"dataset":"d","evaluations":[{"task":"coco-captions","dataRoot":"/etc"}]}""", "evaluations" },
        { """{"dataset":"d","tokenizer":"sentencepiece:/etc/hostname"}""", "tokenizer" },
    };

    [Theory]
    [MemberData(nameof(OutOfBoundsRuns))]
    public async Task A_training_post_pointing_outside_the_api_roots_is_refused_naming_the_field(string body, string field)
    {
        var link = Path.Combine(root, "text-link.jsonl");
        if (!File.Exists(link)) File.CreateSymbolicLink(link, "/etc/hostname");
        var outLink = Path.Combine(root, "checkpoints-link");
        if (!Directory.Exists(outLink)) Directory.CreateSymbolicLink(outLink, "/etc");
        body = body.Replace("OUTLINK", outLink).Replace("LINK", link);

        using var response = await platform.Http.PostAsync("/api/train/runs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), Ct);
        var problem = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out var messages), problem.ToString());
        Assert.Contains(messages.EnumerateArray(), m => m.GetString()!.Contains("outside the folders the API", StringComparison.Ordinal));
        Assert.False(Directory.Exists("/etc/platform-checkpoints"));
    }
}
