using Platform.Grains.Crawling;
using Platform.Grains.Evaluation;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Crawling;
using Platform.Ingestion.Stages;
using Platform.Model.Evaluation.Checkpoints;

namespace Platform.Tests;

/// <summary>The grain contracts stand alone: clients take them without the platform's libraries, and their defaults are the libraries'.</summary>
public sealed class GrainContractsTests
{
    [Fact]
    public void The_contracts_assembly_references_none_of_the_platforms_libraries()
    {
        var contracts = typeof(IIngestJobGrain).Assembly;
        Assert.Equal("Platform.Grains.Contracts", contracts.GetName().Name);
        var ours = contracts.GetReferencedAssemblies().Select(a => a.Name!).Where(name => name.StartsWith("Platform.", StringComparison.Ordinal));
        Assert.Empty(ours);
    }

    [Fact]
    public void Every_grain_interface_lives_in_the_contracts_assembly()
    {
        var grains = typeof(IngestJobGrain).Assembly;
        var interfacesInGrains = grains.GetTypes().Where(t => t.IsInterface && typeof(IAddressable).IsAssignableFrom(t));
        Assert.Empty(interfacesInGrains);
    }

    [Fact]
    public void An_evaluation_requests_defaults_are_the_evaluators()
    {
        var request = new EvaluationRequest { DataRoot = "/data" };
        Assert.Equal(new CheckpointEvaluationOptions().Prompt, request.Prompt);
        Assert.Equal(new FineTuneOptions().LearningRate, request.FineTuneLearningRate);
    }

    [Fact]
    public void A_jobs_default_dataset_location_is_the_job_layouts_dataset_folder()
    {
        Assert.Equal(IngestJobLayout.DatasetFolder, IngestJobRequest.DefaultDatasetFolder);
        var request = new IngestJobRequest(["/in/a.warc.gz"], "/out/job", new IngestJobSettings(), Dataset: "web");
        Assert.Equal(IngestJobLayout.DefaultDatasetLocation("/out/job"), request.EffectiveDatasetLocation);
    }

    [Fact]
    public void Crawl_records_map_to_the_crawlers_types_and_back()
    {
        var settings = new CrawlJobSettings { MaxDepth = 2, MaxPages = 7, MinDelay = TimeSpan.FromMilliseconds(250), ConcurrencyPerSlice = 3, AllowLoopback = true };
        var options = settings.ToOptions(["example.org"]);
        Assert.Equal((2, 7, TimeSpan.FromMilliseconds(250), 3, true, "example.org"),
            (options.MaxDepth, options.MaxPages, options.Politeness.MinDelay, options.Concurrency, options.AllowLoopback, Assert.Single(options.AllowedDomains)));

        var image = new CrawlTarget("http://example.org/a.png", CrawlTargetKind.Image, 2);
        Assert.Equal(image, CrawlTargetRecord.From(image).ToTarget());
        var page = new CrawlTarget("http://example.org/", CrawlTargetKind.Page, 0);
        Assert.Equal(page, CrawlTargetRecord.From(page).ToTarget());

        var politeness = new PolitenessOptions { MinDelay = TimeSpan.FromSeconds(2), BreakerFailures = 4 };
        var back = CrawlHostSettings.From(politeness, "bot").ToOptions();
        Assert.Equal((politeness.MinDelay, politeness.MaxCrawlDelay, politeness.BreakerFailures, politeness.BreakerDuration, politeness.RobotsClaimTimeout),
            (back.MinDelay, back.MaxCrawlDelay, back.BreakerFailures, back.BreakerDuration, back.RobotsClaimTimeout));
    }
}
