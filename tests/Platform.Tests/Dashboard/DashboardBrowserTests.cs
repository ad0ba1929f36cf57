using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;
using Platform.Datasets;
using Platform.Tests.Training;

namespace Platform.Tests.Dashboard;

/// <summary>
/// The platform's pages in Debian's Chromium (driven by Playwright, which cannot download a browser here) against a real
/// `platform up`: each page renders its data without console errors and without serious accessibility violations, the
/// run page's curves hold the run's points and update without a reload, pausing from the page pauses the run, and the
/// sample grid's images decode. A screenshot of every page is left under TestResults/screenshots for a reviewer.
/// </summary>
public sealed class DashboardBrowserTests(DashboardPlatformFixture fixture) : IClassFixture<DashboardPlatformFixture>
{
    private const string ChromiumPath = "/usr/bin/chromium";
    private static readonly string Screenshots = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");

    [Fact]
    public async Task Every_page_renders_live_data_without_console_errors_or_serious_accessibility_violations_and_pausing_from_the_run_page_pauses_the_run()
    {
        Assert.SkipUnless(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: run deploy/setup.sh");
        var ct = TestContext.Current.CancellationToken;
        var http = fixture.Platform.Http;
        // Long enough to be running while the pages are looked at and then paused from its page.
        var spec = new { runId = "watched", dataset = DashboardPlatformFixture.Dataset, steps = 100_000, samplesPerStep = 2, warmupSteps = 1, threads = 1, checkpointEvery = 0 };
        using (var posted = await http.PostAsJsonAsync("/api/train/runs", spec, ct))
            Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync(ct));
        await WaitForStepAsync(http, "watched", atLeast: 3, ct);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // Tests run as root in containers, where Chromium's sandbox cannot start.
            Args = ["--no-sandbox"],
        });
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = fixture.Platform.BaseAddress.ToString(), ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        var page = await context.NewPageAsync();
        var consoleErrors = new List<string>();
        page.Console += (_, message) => { if (message.Type == "error") lock (consoleErrors) consoleErrors.Add($"{page.Url}: {message.Text}"); };
        page.PageError += (_, error) => { lock (consoleErrors) consoleErrors.Add($"{page.Url}: {error}"); };
        page.Response += (_, response) => { if (response.Status >= 400) lock (consoleErrors) consoleErrors.Add($"{page.Url}: {response.Url} answered {response.Status}"); };
        Directory.CreateDirectory(Screenshots);

        await OpenAsync(page, "/", "overview");
        await Expect(page.Locator("main")).ToContainTextAsync("watched");
        await Expect(page.Locator("main")).ToContainTextAsync("cpu:0 running watched");
        // Jobs of every kind: the fixture's ingest job (done, its shards committed) and its crawl, each linking to its page.
        var ingestLine = page.Locator($"li[data-job='{DashboardPlatformFixture.IngestJob}']");
        await Expect(ingestLine).ToContainTextAsync("Completed");
        await Expect(ingestLine.Locator("a")).ToHaveAttributeAsync("href", $"/ingest/{DashboardPlatformFixture.IngestJob}");
        await Expect(ingestLine.Locator("progress")).ToHaveAttributeAsync("value", (await DatasetShardCountAsync()).ToString());
        var crawlLine = page.Locator($"li[data-crawl='{DashboardPlatformFixture.Crawl}']");
        await Expect(crawlLine.Locator("a")).ToHaveAttributeAsync("href", $"/crawl/{DashboardPlatformFixture.Crawl}");
        await Expect(crawlLine).ToContainTextAsync("pages admitted");
        // The watched run saves no checkpoint, so nothing is evaluated yet: the section says what would make it show something.
        await Expect(page.Locator("section[aria-labelledby=evaluations-heading]")).ToContainTextAsync("No checkpoint evaluated yet");
        await Expect(page.Locator("a[href='/orleans']").First).ToBeVisibleAsync();
        await Expect(page.Locator("a[href='/hangfire']").First).ToBeVisibleAsync();

        await OpenAsync(page, "/runs", "runs");
        await Expect(page.Locator("tr[data-run='watched']")).ToContainTextAsync("Running");

        await OpenAsync(page, "/datasets", "datasets");
        await Expect(page.Locator("main table")).ToContainTextAsync(DashboardPlatformFixture.Dataset);

        // The dataset the fixture's ingest job made: its shard count, its funnel stage by stage, per-shard stats and its samples.
        var shards = await fixture.Grains.GetGrain<Platform.Grains.Datasets.IDatasetGrain>(DashboardPlatformFixture.Dataset).ListShards(0, 100);
        var shardStats = shards.Select(s => ShardStats.FromJson(File.ReadAllBytes(s.Location[..^".tar".Length] + "_stats.json"))).ToList();
        var jobFunnel = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(fixture.DatasetLocation, $"funnel-{DashboardPlatformFixture.IngestJob}.json")));
        var stages = jobFunnel.RootElement.GetProperty("stages").EnumerateArray().ToList();
        await OpenAsync(page, $"/datasets/{DashboardPlatformFixture.Dataset}", "dataset");
        await Expect(page.Locator("[data-testid=shard-count]")).ToHaveTextAsync(shards.Count.ToString());
        // One bar for what each stage took in, one for what it kept, one per rejection reason, as the job's funnel file counts them.
        var funnel = page.Locator("figure[data-chart=funnel]");
        await Expect(funnel).ToHaveAttributeAsync("data-points", stages.Sum(s => 2 + s.GetProperty("rejected").EnumerateObject().Count()).ToString());
        Assert.True(stages.Count > 2, jobFunnel.RootElement.ToString());
        foreach (var stage in stages)
            await Expect(page.Locator($"tr[data-stage='{stage.GetProperty("stage").GetString()}']")).ToHaveAttributeAsync("data-in", stage.GetProperty("in").GetInt64().ToString());
        // The image stage sums every shard's stats: the copied photograph and the icon are rejected there, by reason.
        var imageStage = page.Locator("tr[data-stage=shards]");
        await Expect(imageStage).ToHaveAttributeAsync("data-in", shardStats.Sum(s => s.Attempted).ToString());
        await Expect(imageStage).ToHaveAttributeAsync("data-passed", shardStats.Sum(s => s.Successes).ToString());
        Assert.Equal(DashboardPlatformFixture.Photographs, shardStats.Sum(s => s.Successes));
        Assert.Equal(2, shardStats.Sum(s => s.ReasonCounts.Values.Sum()));
        foreach (var reason in shardStats.SelectMany(s => s.ReasonCounts.Keys))
            await Expect(imageStage).ToContainTextAsync(reason);
        foreach (var (shard, stats) in shards.Zip(shardStats))
            await Expect(page.Locator($"tr[data-shard='{shard.ShardId}'] td").Nth(3)).ToHaveTextAsync(stats.Attempted.ToString());
        // Shards commit in any order and one may hold no sample (all its attempts rejected): the grid starts on one with samples,
        // and the shard buttons switch it to another.
        var withSamples = shards.Where(s => s.SampleCount > 0).ToList();
        Assert.True(withSamples.Count >= 2, string.Join(", ", shards.Select(s => $"{s.ShardId}: {s.SampleCount}")));
        var images = page.Locator("li.sample img");
        await Expect(page.Locator("#samples-heading")).ToHaveTextAsync($"Samples of shard {withSamples[0].ShardId}");
        await Expect(images).ToHaveCountAsync((int)withSamples[0].SampleCount);
        await page.Locator($"tr[data-shard='{withSamples[1].ShardId}'] button").ClickAsync();
        await Expect(page.Locator("#samples-heading")).ToHaveTextAsync($"Samples of shard {withSamples[1].ShardId}");
        await Expect(images).ToHaveCountAsync((int)withSamples[1].SampleCount);
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('li.sample img')].every(i => i.complete)");
        var widths = await images.EvaluateAllAsync<int[]>("imgs => imgs.map(i => i.naturalWidth)");
        Assert.All(widths, width => Assert.True(width > 0, "an image of the sample grid did not decode"));
        var firstCaption = await images.First.GetAttributeAsync("alt");
        Assert.Contains(firstCaption, Enumerable.Range(0, DashboardPlatformFixture.Photographs).Select(DashboardPlatformFixture.Caption));
        var wanted = firstCaption!.Split(' ')[^1];
        await page.Locator("#sample-search").FillAsync($"on day {wanted}");
        await page.Locator("form[role=search] button").ClickAsync();
        await Expect(images).ToHaveCountAsync(1);
        await Expect(page.Locator("li.sample").First).ToContainTextAsync(firstCaption);

        // The ingest job's page: done, its shards committed.
        await OpenAsync(page, $"/ingest/{DashboardPlatformFixture.IngestJob}", "ingest");
        await Expect(page.Locator("[data-testid=phase]")).ToHaveTextAsync("Completed");
        await Expect(page.Locator("main")).ToContainTextAsync($"{shards.Count} committed");

        await OpenAsync(page, "/devices", "devices");
        await Expect(page.Locator("tr[data-device='cpu:0']")).ToContainTextAsync("watched");

        // Pages of things that do not exist say so and what to run, rather than failing.
        await OpenAsync(page, "/ingest/no-such-job", "ingest-unknown");
        await Expect(page.Locator("main")).ToContainTextAsync("No ingest job 'no-such-job'");
        await Expect(page.Locator("main code")).ToContainTextAsync("platform ingest submit");
        // The crawl's page: its frontier and, per host, the politeness the cluster keeps: robots.txt read, its Crawl-delay applied.
        await OpenAsync(page, $"/crawl/{DashboardPlatformFixture.Crawl}", "crawl");
        await Expect(page.Locator("[data-testid=frontier]")).ToContainTextAsync("URLs waiting");
        var host = page.Locator($"tr[data-host='{fixture.CrawledOrigin}']");
        await Expect(host.Locator("[data-testid=robots]")).ToHaveTextAsync("Found", new() { Timeout = 60_000 });
        await Expect(host.Locator("[data-testid=crawl-delay]")).ToHaveTextAsync($"{DashboardPlatformFixture.CrawlDelay.TotalSeconds:0.###} s");
        var seen = int.Parse((await host.Locator("td").Nth(1).TextContentAsync())!.Replace(",", ""));
        Assert.True(seen > 1, $"the crawl saw {seen} URL(s) of its site");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "crawl.png"), FullPage = true });
        await OpenAsync(page, "/crawl/no-such-crawl", "crawl-unknown");
        await Expect(page.Locator("main")).ToContainTextAsync("No crawl 'no-such-crawl'");

        await OpenAsync(page, "/leaderboard", "leaderboard");
        await Expect(page.Locator("main")).ToContainTextAsync("No checkpoint has been scored yet");

        // The run's page: its curves hold the run's points, and steps reported after the page loaded arrive without a reload.
        await OpenAsync(page, "/runs/watched", "run");
        await page.EvaluateAsync("() => { window.notReloaded = true; }");
        var loss = page.Locator("figure[data-chart=loss]");
        var (shownPoints, drawnPoints) = await ChartPointsAsync(loss);
        var history = await HistoryCountAsync(http, "watched", ct);
        Assert.InRange(shownPoints, 3, history);
        Assert.Equal(shownPoints, drawnPoints);
        var stepAtLoad = StepOf(await page.Locator("[data-testid=step]").TextContentAsync());
        await page.WaitForFunctionAsync($"() => parseInt(document.querySelector('[data-testid=step]').textContent) > {stepAtLoad}",
            null, new PageWaitForFunctionOptions { Timeout = 60_000 });
        await page.WaitForFunctionAsync($"() => parseInt(document.querySelector('figure[data-chart=loss]').dataset.points) > {shownPoints}",
            null, new PageWaitForFunctionOptions { Timeout = 60_000 });
        Assert.True(await page.EvaluateAsync<bool>("() => window.notReloaded === true"), "the page reloaded instead of updating in place");
        foreach (var chart in new[] { "loss", "lr", "tokens" })
        {
            var (declared, drawn) = await ChartPointsAsync(page.Locator($"figure[data-chart={chart}]"));
            Assert.Equal(declared, drawn);
        }
        // What the page cannot show, it says why: the run has no text-only documents, and no MFU without a device peak.
        await Expect(page.Locator("[data-testid=text-documents]")).ToHaveTextAsync("none: image-text pairs only");
        await Expect(page.Locator("figure[data-chart=mfu]")).ToContainTextAsync("Not measured: a run on the platform is not told its device's peak FLOP rate");

        // Pause from the page: a form POST with the page's antiforgery token, then the page shows the run pausing or paused.
        await page.Locator("button[data-action=pause]").ClickAsync();
        await Expect(page.Locator("[data-testid=phase]")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^Paus(ing|ed)$"), new() { Timeout = 60_000 });
        var phase = await PhaseAsync(http, "watched", ct);
        Assert.Contains(phase, new[] { "Pausing", "Paused" });
        await Expect(page.Locator("[data-testid=phase]")).ToHaveTextAsync("Paused", new() { Timeout = 120_000 });
        await Expect(page.Locator("button[data-action=resume]")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "run-paused.png"), FullPage = true });

        // A form posted without the antiforgery token is refused and changes nothing.
        using (var forged = await http.PostAsync("/runs/watched/resume", new FormUrlEncodedContent([]), ct))
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal("Paused", await PhaseAsync(http, "watched", ct));

        // Hangfire's jobs lead back to the platform's pages: the list names each job's page, its details page links there.
        await page.GotoAsync("/hangfire/jobs/succeeded", new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
        await Expect(page.Locator("body")).ToContainTextAsync(new System.Text.RegularExpressions.Regex($@"IngestSubmitJob\.\w+ · /ingest/{DashboardPlatformFixture.IngestJob}"));
        await Expect(page.Locator("body")).ToContainTextAsync(new System.Text.RegularExpressions.Regex(@"TrainingSubmitJob\.\w+ · /runs/watched"));
        await page.GotoAsync($"/hangfire/jobs/details/{fixture.IngestHangfireJob}", new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
        var back = page.Locator("a[data-platform-page]");
        await Expect(back).ToHaveAttributeAsync("href", $"/ingest/{DashboardPlatformFixture.IngestJob}");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "hangfire-job.png"), FullPage = true });
        await back.ClickAsync();
        await page.WaitForURLAsync($"**/ingest/{DashboardPlatformFixture.IngestJob}");
        await Expect(page.Locator("[data-testid=phase]")).ToHaveTextAsync("Completed");

        await EvaluationOutputsAreViewableFromTheLeaderboardAsync(page, http, ct);

        lock (consoleErrors) Assert.True(consoleErrors.Count == 0, "console errors:\n" + string.Join("\n", consoleErrors));
    }

    /// <summary>
    /// A checkpoint scored by the evaluation grain of the running platform: the leaderboard links its row to the evaluation's
    /// page, which shows each caption the model wrote beside its image (in the order of the evaluation's captions.json) and
    /// offers the output files; the page's endpoints serve nothing the evaluation did not write or name.
    /// </summary>
    private async Task EvaluationOutputsAreViewableFromTheLeaderboardAsync(IPage page, HttpClient http, CancellationToken ct)
    {
        var data = Path.Combine(fixture.Root, "benchmark");
        Model.Evaluation.Benchmark.BenchmarkGenerator.Generate(data, Platform.Evaluation.Tests.TinyBenchmarkModel.Benchmark(), ct);
        var checkpoint = Platform.Evaluation.Tests.TinyBenchmarkModel.Checkpoint(data, Path.Combine(fixture.Root, "scored-run"), steps: 2);
        var evaluation = fixture.Grains.GetGrain<Platform.Grains.Evaluation.IEvaluationGrain>(
            Platform.Grains.Evaluation.EvaluationKey.For(checkpoint, Model.Evaluation.EvaluationTask.CocoCaptions));
        await evaluation.Start(new Platform.Grains.Evaluation.EvaluationRequest { DataRoot = data, Prompt = "" });
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
        Platform.Grains.Evaluation.EvaluationStatus done;
        while ((done = await evaluation.GetStatus()).Phase == Platform.Grains.Evaluation.EvaluationPhase.Running && DateTime.UtcNow < deadline)
            await Task.Delay(250, ct);
        Assert.True(done.Phase == Platform.Grains.Evaluation.EvaluationPhase.Completed, $"the evaluation ended {done.Phase}: {done.Error}");
        var captionsBlob = done.OutputBlobs.Single(b => b.EndsWith("/captions.json", StringComparison.Ordinal));
        var captionsLink = page.Locator("a", new() { HasTextString = "captions.json" });

        await OpenAsync(page, "/leaderboard", "leaderboard-scored");
        var outputs = page.Locator("a[aria-label='captions of scored-run at step 2 on coco-captions']");
        await outputs.ClickAsync();
        await page.WaitForURLAsync("**/evaluations/coco-captions?checkpoint=*");
        await Expect(page.Locator("[data-testid=phase]")).ToHaveTextAsync("Completed");
        var grid = page.Locator("ul[aria-label='Evaluation outputs'] li.sample");
        await Expect(grid.First).ToBeVisibleAsync(new() { Timeout = 30_000 });

        using var written = JsonDocument.Parse(await (await http.GetAsync(await captionsLink.GetAttributeAsync("href"), ct)).Content.ReadAsStringAsync(ct));
        var expected = written.RootElement.EnumerateArray().Select(c => c.GetProperty("caption").GetString() ?? "").ToList();
        Assert.NotEmpty(expected);
        // The prerendered list is rebuilt when the page's circuit starts: read the live one.
        await Expect(page.Locator("ul[aria-label='Evaluation outputs'][data-interactive=true]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Expect(page.Locator("ul[aria-label='Evaluation outputs'] [data-testid=output]")).ToHaveTextAsync(expected.ToArray());
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll(\"ul[aria-label='Evaluation outputs'] img\")].every(i => i.complete)");
        var decoded = await page.EvaluateAsync<int>("() => [...document.querySelectorAll(\"ul[aria-label='Evaluation outputs'] img\")].filter(i => i.complete && i.naturalWidth > 0).length");
        Assert.Equal(expected.Count, decoded);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "evaluation.png"), FullPage = true });

        // A full load prerenders the list; the circuit that takes over must show it from its first render on, not drop it
        // until its own load has read the outputs again (a visible flicker).
        await page.AddInitScriptAsync("""
            window.__outputsSeen = false; window.__outputsDropped = 0;
            new MutationObserver(() => {
                if (document.querySelector("ul[aria-label='Evaluation outputs'] li.sample")) window.__outputsSeen = true;
                else if (window.__outputsSeen) window.__outputsDropped++;
            }).observe(document, { childList: true, subtree: true });
            """);
        await page.ReloadAsync();
        await Expect(page.Locator("ul[aria-label='Evaluation outputs'][data-interactive=true] li.sample").First).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await page.WaitForTimeoutAsync(1_000);
        Assert.True(await page.EvaluateAsync<bool>("() => window.__outputsSeen"), "the reloaded page never showed its outputs");
        Assert.Equal(0, await page.EvaluateAsync<int>("() => window.__outputsDropped"));
        await Expect(page.Locator("ul[aria-label='Evaluation outputs'] [data-testid=output]")).ToHaveTextAsync(expected.ToArray());

        // Only what the evaluation wrote or named: not another blob, not a file outside its data root.
        var key = Uri.EscapeDataString(Platform.Grains.Evaluation.EvaluationKey.Parse(evaluation.GetPrimaryKeyString()).Checkpoint);
        using (var other = await http.GetAsync($"/evaluations/coco-captions/output?checkpoint={key}&name={Uri.EscapeDataString(captionsBlob.Replace("captions.json", "other.json"))}", ct))
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        using (var outside = await http.GetAsync($"/evaluations/coco-captions/image?checkpoint={key}&file={Uri.EscapeDataString("../../../../etc/hostname")}", ct))
            Assert.Equal(HttpStatusCode.NotFound, outside.StatusCode);

        await PredictionsAreShownWithBothImagesAsync(page, http, checkpoint, data, ct);
    }

    /// <summary>
    /// An NLVR2 evaluation's page shows each prediction of its predictions.json, in order: the example's two images (from the
    /// data's nlvr2/{split}/ folder), its statement, the predicted label and the gold one.
    /// </summary>
    private async Task PredictionsAreShownWithBothImagesAsync(IPage page, HttpClient http, string checkpoint, string data, CancellationToken ct)
    {
        var evaluation = fixture.Grains.GetGrain<Platform.Grains.Evaluation.IEvaluationGrain>(
            Platform.Grains.Evaluation.EvaluationKey.For(checkpoint, Model.Evaluation.EvaluationTask.Nlvr2));
        await evaluation.Start(new Platform.Grains.Evaluation.EvaluationRequest { DataRoot = data });
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
        Platform.Grains.Evaluation.EvaluationStatus done;
        while ((done = await evaluation.GetStatus()).Phase == Platform.Grains.Evaluation.EvaluationPhase.Running && DateTime.UtcNow < deadline)
            await Task.Delay(250, ct);
        Assert.True(done.Phase == Platform.Grains.Evaluation.EvaluationPhase.Completed, $"the NLVR2 evaluation ended {done.Phase}: {done.Error}");
        var key = Platform.Grains.Evaluation.EvaluationKey.Parse(evaluation.GetPrimaryKeyString()).Checkpoint;

        await page.GotoAsync(Platform.Dashboard.Services.EvaluationOutputs.PageLink("nlvr2", key), new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
        await Expect(page.Locator("[data-testid=phase]")).ToHaveTextAsync("Completed");
        var grid = page.Locator("ul[aria-label='Evaluation outputs'] li.sample");
        await Expect(page.Locator("ul[aria-label='Evaluation outputs'][data-interactive=true]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Expect(page.Locator("#items-heading")).ToHaveTextAsync("Predictions with their images");

        var predictionsLink = page.Locator("a", new() { HasTextString = "predictions.json" });
        using var written = JsonDocument.Parse(await (await http.GetAsync(await predictionsLink.GetAttributeAsync("href"), ct)).Content.ReadAsStringAsync(ct));
        var expected = written.RootElement.EnumerateArray().Take(60).ToList();
        Assert.NotEmpty(expected);
        await Expect(grid).ToHaveCountAsync(expected.Count);
        await Expect(page.Locator("ul[aria-label='Evaluation outputs'] [data-testid=output]")).ToHaveTextAsync(expected.Select(p => p.GetProperty("prediction").GetString()!).ToArray());
        Assert.Equal(expected.Select(p => p.GetProperty("label").GetString()), await page.Locator("ul[aria-label='Evaluation outputs'] [data-testid=gold]").AllTextContentsAsync());
        Assert.Equal(expected.Select(p => p.GetProperty("text").GetString()), await page.Locator("ul[aria-label='Evaluation outputs'] [data-testid=text]").AllTextContentsAsync());
        Assert.Equal(expected.Select(p => p.GetProperty("id").GetString()), await grid.EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.exampleId)"));
        // Two images per statement, each named by the prediction and decoded from the data's NLVR2 folder.
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll(\"ul[aria-label='Evaluation outputs'] img\")].every(i => i.complete)");
        var sources = await page.Locator("ul[aria-label='Evaluation outputs'] img").EvaluateAllAsync<string[]>("images => images.filter(i => i.naturalWidth > 0).map(i => new URL(i.src).searchParams.get('file'))");
        Assert.Equal(expected.SelectMany(p => p.GetProperty("images").EnumerateArray().Select(i => i.GetString())), sources);
        Assert.All(expected, p => Assert.Equal(2, p.GetProperty("images").GetArrayLength()));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "evaluation-nlvr2.png"), FullPage = true });
    }

    [Fact]
    public async Task By_default_the_pages_and_their_hub_answer_only_requests_from_this_machine()
    {
        var ct = TestContext.Current.CancellationToken;
        async Task<HttpStatusCode> SendAsync(HttpMethod method, string path, bool relayed)
        {
            using var request = new HttpRequestMessage(method, path);
            // A request relayed by a proxy this platform does not trust comes from elsewhere, even over loopback.
            if (relayed) request.Headers.Add("X-Forwarded-For", "203.0.113.9");
            using var response = await fixture.Platform.Http.SendAsync(request, ct);
            return response.StatusCode;
        }

        foreach (var (method, path) in new[] { (HttpMethod.Get, "/"), (HttpMethod.Get, $"/datasets/{DashboardPlatformFixture.Dataset}"),
            (HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1"), (HttpMethod.Get, "/_framework/blazor.web.js") })
        {
            Assert.True(await SendAsync(method, path, relayed: true) == HttpStatusCode.Forbidden, $"{method} {path} answered a request from another machine");
            Assert.Equal(HttpStatusCode.OK, await SendAsync(method, path, relayed: false));
        }
    }

    /// <summary>Opens a page, waits for its live connection, checks it with axe and saves a screenshot.</summary>
    private static async Task OpenAsync(IPage page, string path, string name)
    {
        var response = await page.GotoAsync(path, new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
        Assert.True(response is { Ok: true }, $"{path} answered {response?.Status}");
        // Blazor's circuit is up once the framework says so; updates and clicks need it.
        await page.WaitForFunctionAsync("() => window.Blazor !== undefined");
        await page.WaitForTimeoutAsync(1500);
        var axe = await page.RunAxe();
        var serious = axe.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        Assert.True(serious.Count == 0, $"{path}: " + string.Join("\n", serious.Select(v => $"{v.Id} ({v.Impact}): {v.Help} at {string.Join(", ", v.Nodes.Select(n => string.Join(" ", n.Target)))}")));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, $"{name}.png"), FullPage = true });
    }

    /// <summary>
    /// The points a chart says it holds and the coordinate pairs of its drawn line (a move, then lines), read in one go
    /// since the page may redraw between two reads.
    /// </summary>
    private static async Task<(int Declared, int Drawn)> ChartPointsAsync(ILocator figure)
    {
        var read = await figure.EvaluateAsync<string[]>("f => { const p = f.querySelector('.rz-line-series path'); return [f.dataset.points, p ? p.getAttribute('d') : '']; }");
        var numbers = System.Text.RegularExpressions.Regex.Matches(read[1], @"-?\d+(\.\d+)?(e-?\d+)?").Count;
        Assert.True(numbers % 2 == 0, $"odd coordinates in the line's path: {read[1][..Math.Min(read[1].Length, 300)]}");
        return (int.Parse(read[0]), numbers / 2);
    }

    private async Task<int> DatasetShardCountAsync() =>
        (await fixture.Grains.GetGrain<Platform.Grains.Datasets.IDatasetGrain>(DashboardPlatformFixture.Dataset).GetTotals()).ShardCount;

    private static int StepOf(string? text) => int.Parse(text!.Split('/')[0].Trim());

    private static async Task<int> HistoryCountAsync(HttpClient http, string run, CancellationToken ct)
    {
        using var status = JsonDocument.Parse(await http.GetStringAsync($"/api/train/runs/{run}", ct));
        return status.RootElement.GetProperty("history").GetArrayLength();
    }

    private static async Task<string> PhaseAsync(HttpClient http, string run, CancellationToken ct)
    {
        using var status = JsonDocument.Parse(await http.GetStringAsync($"/api/train/runs/{run}", ct));
        return status.RootElement.GetProperty("run").GetProperty("phase").GetString()!;
    }

    private static async Task WaitForStepAsync(HttpClient http, string run, int atLeast, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            using var response = await http.GetAsync($"/api/train/runs/{run}", ct);
            if (response.IsSuccessStatusCode)
            {
                using var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
                if (status.RootElement.GetProperty("history").GetArrayLength() >= atLeast) return;
            }
            await Task.Delay(500, ct);
        }
        Assert.Fail($"run {run} reported fewer than {atLeast} steps in three minutes");
    }

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);
}
