using Platform.Ingestion.Stages;

namespace Platform.Ingestion.Tests.Stages;

public class IngestJobLayoutTests
{
    /// <summary>A job's files outlive a silo, so a restarted job finds the work of its earlier activations only if the names never change.</summary>
    [Fact]
    public void Names_the_work_files_of_a_job_as_jobs_already_on_disk_name_them()
    {
        var layout = new IngestJobLayout("/data/job");

        Assert.Equal("/data/job/.units/00003.2", layout.Unit(3, 2).Path);
        Assert.Equal("/data/job/.units/00003.2/spool.jsonl", layout.Unit(3, 2).Spool);
        Assert.Equal("/data/job/.finish-4", layout.FinishDirectory(4));
        Assert.Equal("/data/job/.shards/fetch/00001.3", layout.FetchDirectory(1, 3));
        Assert.Equal("/data/job/.shards/verdicts-2/00007.txt", layout.VerdictsFile(2, 7));
        Assert.Equal("/data/job/.shards/url-duplicates.txt", layout.UrlDuplicates);
        Assert.Equal("/data/job/candidates.jsonl", layout.Candidates);
        Assert.Equal("/data/job/dataset", IngestJobLayout.DefaultDatasetLocation(layout.Root));
    }
}
