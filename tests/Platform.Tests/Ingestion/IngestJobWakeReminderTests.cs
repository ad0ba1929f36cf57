using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Platform.Grains.Ingestion;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Ingestion;

/// <summary>A running job keeps a persistent reminder, so it resumes even when its silo died and nothing calls it; a finished job leaves none.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class IngestJobWakeReminderTests(SharedClusterFixture shared) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("ingest-wake-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task A_running_job_has_a_wake_reminder_in_the_reminder_table_and_a_finished_one_has_none()
    {
        var inputs = IngestInputs.Write(Path.Combine(root, "in"), files: 2, pagesPerFile: 30, seed: 31);
        var job = shared.Grains.GetGrain<IIngestJobGrain>("wake-" + Guid.NewGuid().ToString("N"));
        var reminders = shared.Cluster.Silos[0].ServiceProvider.GetRequiredService<IReminderTable>();
        var grainId = job.GetGrainId();

        var submitted = await job.Submit(new IngestJobRequest(inputs, Path.Combine(root, "out"), new IngestJobSettings()));
        Assert.False(submitted.IsOver);
        var entry = await reminders.ReadRow(grainId, IngestJobGrain.WakeReminder, TestContext.Current.CancellationToken);
        Assert.NotNull(entry);
        Assert.Equal(IngestJobGrain.WakePeriod, entry.Period);

        var status = await IngestJobGrainTests.WaitForEndAsync(job, TimeSpan.FromMinutes(2));
        Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await reminders.ReadRow(grainId, IngestJobGrain.WakeReminder, TestContext.Current.CancellationToken) is not null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the finished job's wake reminder is still registered");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }
}
