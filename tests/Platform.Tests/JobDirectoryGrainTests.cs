using Platform.Grains.Jobs;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

[Collection(SharedClusterCollection.Name)]
public sealed class JobDirectoryGrainTests(SharedClusterFixture shared)
{
    [Fact]
    public async Task The_directory_lists_each_job_once_newest_first_and_keeps_only_the_latest_of_each_kind()
    {
        // A directory of its own: the cluster's is shared with every other test's jobs.
        var directory = shared.Grains.GetGrain<IJobDirectoryGrain>($"test-{Guid.NewGuid():N}");
        await directory.Record(JobKind.Crawl, "crawl-1");
        for (var i = 0; i <= IJobDirectoryGrain.Capacity; i++) await directory.Record(JobKind.Ingest, $"job-{i:D3}");
        // Recording again (a retried submission) neither duplicates nor moves a job.
        await directory.Record(JobKind.Ingest, "job-250");
        await directory.Record(JobKind.Crawl, "crawl-1");

        var ingests = await directory.Recent(JobKind.Ingest, 1000);
        Assert.Equal(IJobDirectoryGrain.Capacity, ingests.Count);
        Assert.Equal($"job-{IJobDirectoryGrain.Capacity:D3}", ingests[0].JobId);
        Assert.Equal("job-001", ingests[^1].JobId);
        Assert.Single(ingests, j => j.JobId == "job-250");
        Assert.DoesNotContain(ingests, j => j.JobId == "job-000");
        Assert.Equal(["job-500", "job-499"], (await directory.Recent(JobKind.Ingest, 2)).Select(j => j.JobId));
        var crawls = await directory.Recent(JobKind.Crawl, 10);
        Assert.Equal("crawl-1", Assert.Single(crawls).JobId);
        Assert.All(ingests.Concat(crawls), j => Assert.True(j.Kind == (j.JobId.StartsWith("crawl", StringComparison.Ordinal) ? JobKind.Crawl : JobKind.Ingest)));
    }
}
