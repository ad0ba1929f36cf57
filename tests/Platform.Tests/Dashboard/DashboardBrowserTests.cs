using System.Net.Http.Json;
using System.Text.Json;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;
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
        await Expect(page.Locator("a[href='/orleans']").First).ToBeVisibleAsync();
        await Expect(page.Locator("a[href='/hangfire']").First).ToBeVisibleAsync();

        await OpenAsync(page, "/runs", "runs");
        await Expect(page.Locator("tr[data-run='watched']")).ToContainTextAsync("Running");

        await OpenAsync(page, "/datasets", "datasets");
        await Expect(page.Locator("main table")).ToContainTextAsync(DashboardPlatformFixture.Dataset);

        await OpenAsync(page, $"/datasets/{DashboardPlatformFixture.Dataset}", "dataset");
        await Expect(page.Locator("[data-testid=shard-count]")).ToHaveTextAsync("1");
        // The funnel from the shard's stats: attempted, stored, then each other status and each reason.
        var funnel = page.Locator("figure[data-chart=funnel]");
        await Expect(funnel).ToHaveAttributeAsync("data-points", "6");
        await Expect(funnel).ToContainTextAsync("attempted");
        await Expect(funnel).ToContainTextAsync("image_too_small");
        await Expect(page.Locator("tr[data-shard='00000']")).ToContainTextAsync("11");
                var images = page.Locator("li.sample img");
        await Expect(images).ToHaveCountAsync(DashboardPlatformFixture.Samples);
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('li.sample img')].every(i => i.complete)");
        var widths = await images.EvaluateAllAsync<int[]>("imgs => imgs.map(i => i.naturalWidth)");
        Assert.All(widths, width => Assert.Equal(64, width));
        Assert.Equal("a red square on a grey background number 0", await images.First.GetAttributeAsync("alt"));
        await page.Locator("#sample-search").FillAsync("number 5");
        await page.Locator("form[role=search] button").ClickAsync();
        await Expect(images).ToHaveCountAsync(1);
        await Expect(page.Locator("li.sample").First).ToContainTextAsync("number 5");

        await OpenAsync(page, "/devices", "devices");
        await Expect(page.Locator("tr[data-device='cpu:0']")).ToContainTextAsync("watched");

        // Pages of things that do not exist say so and what to run, rather than failing.
        await OpenAsync(page, "/ingest/no-such-job", "ingest-unknown");
        await Expect(page.Locator("main")).ToContainTextAsync("No ingest job 'no-such-job'");
        await Expect(page.Locator("main code")).ToContainTextAsync("platform ingest submit");
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

        lock (consoleErrors) Assert.True(consoleErrors.Count == 0, "console errors:\n" + string.Join("\n", consoleErrors));
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
