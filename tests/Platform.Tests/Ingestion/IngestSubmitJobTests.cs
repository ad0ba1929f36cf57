using Platform.Grains.Ingestion;
using Platform.Silo.Jobs;
using Microsoft.Extensions.Logging.Abstractions;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Ingestion;

[Collection(SharedClusterCollection.Name)]
public sealed class IngestSubmitJobTests(SharedClusterFixture shared) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("ingest-submit-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task A_retried_submit_job_starts_one_ingestion_which_completes()
    {
        var inputs = IngestInputs.Write(Path.Combine(root, "in"), files: 3, pagesPerFile: 10, seed: 2);
        var output = Path.Combine(root, "out");
        var jobId = IngestSubmissions.JobIdFor(inputs, output, "web");
        // The same files named by relative paths are the same job.
        Assert.Equal(jobId, IngestSubmissions.JobIdFor(inputs.Select(i => Path.GetRelativePath(Environment.CurrentDirectory, i)), output, "web"));
        Assert.NotEqual(jobId, IngestSubmissions.JobIdFor(inputs, output, "other"));

        var job = new IngestSubmitJob(shared.Grains, NullLogger<IngestSubmitJob>.Instance);
        // Hangfire may run the same job again after a timeout or a crash.
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => job.RunAsync(jobId, inputs, output, "web")));

        var grain = shared.Grains.GetGrain<IIngestJobGrain>(jobId);
        var deadline = DateTime.UtcNow.AddMinutes(1);
        IngestJobStatus status;
        while (!(status = await grain.GetStatus()).IsOver && DateTime.UtcNow < deadline) await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
        Assert.All(status.Units, u => Assert.Equal(1, u.Attempt));
        Assert.Equal(File.ReadLines(Path.Combine(output, "candidates.jsonl")).LongCount(), status.PairsKept);
        Assert.True(status.PairsKept > 0);
        await Assert.ThrowsAnyAsync<Exception>(() => job.RunAsync(jobId, inputs[..1], output, "web"));
    }

    [Fact]
    public async Task A_blob_dataset_location_the_silos_cannot_open_fails_the_submission()
    {
        var job = shared.Grains.GetGrain<IIngestJobGrain>("job-" + Guid.NewGuid().ToString("N"));
        var request = new IngestJobRequest([Path.Combine(root, "some.warc.gz")], Path.Combine(root, "out"), new IngestJobSettings(), "elsewhere",
            "http://127.0.0.1:1/otheraccount/container/prefix");
        var error = await Assert.ThrowsAsync<ArgumentException>(() => job.Submit(request));
        Assert.Contains("not in the storage account", error.Message);
        Assert.Equal(IngestJobPhase.NotSubmitted, (await job.GetStatus()).Phase);
        // Nor may a location be given without a dataset to commit to.
        await Assert.ThrowsAsync<ArgumentException>(() => job.Submit(request with { Dataset = null }));
    }
}
