using Platform.Grains.Ingestion;

namespace Platform.Tests.Ingestion;

public sealed class IngestSubmissionsTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("ingest-submissions-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string Dump(string name)
    {
        var path = Path.Combine(root, name);
        File.WriteAllText(path, "url\tcaption\n");
        return path;
    }

    [Fact]
    public void A_command_line_submission_takes_relative_paths_from_its_directory_and_derives_the_id_of_the_full_paths()
    {
        var dump = Dump("a.tsv");
        var submission = IngestSubmissions.FromClient(null, ["a.tsv", "https://account.example/dumps/b.warc.gz"], "out", null, "web", "shards", baseDirectory: root);

        Assert.True(submission.IsValid, string.Join(" ", submission.Problems));
        Assert.Equal(new[] { dump, "https://account.example/dumps/b.warc.gz" }, submission.Request.Inputs);
        Assert.Equal(Path.Combine(root, "out"), submission.Request.OutputDirectory);
        Assert.Equal(Path.Combine(root, "shards"), submission.Request.DatasetLocation);
        Assert.Equal(IngestSubmissions.JobIdFor([dump, "https://account.example/dumps/b.warc.gz"], Path.Combine(root, "out"), "web", Path.Combine(root, "shards")),
            submission.JobId);
        Assert.Equal("mine", IngestSubmissions.FromClient("mine", ["a.tsv"], "out", null, "web", null, baseDirectory: root).JobId);
    }

    [Fact]
    public void A_web_submission_is_refused_relative_paths_and_every_client_is_told_which_inputs_are_missing()
    {
        var missing = Path.Combine(root, "missing.warc.gz");
        var web = IngestSubmissions.FromClient(null, ["relative.warc.gz", missing], "out", null, null, null, baseDirectory: null);

        Assert.False(web.IsValid);
        Assert.Contains(new IngestSubmissionProblem("inputs", "'relative.warc.gz' is neither a blob URL nor an absolute path of an existing file on this host."), web.Problems);
        Assert.Contains(new IngestSubmissionProblem("inputs", "Input not found: " + missing), web.Problems);
        Assert.Contains(new IngestSubmissionProblem("output", "Give the output directory as an absolute path."), web.Problems);

        var command = IngestSubmissions.FromClient(null, [missing], "out", null, null, null, baseDirectory: root);
        Assert.Equal(new IngestSubmissionProblem("inputs", "Input not found: " + missing), Assert.Single(command.Problems));
    }

    [Fact]
    public void Every_job_is_held_to_the_same_rules_and_the_grains_check_names_each_broken_one()
    {
        var request = new IngestJobRequest([], " ", new IngestJobSettings { MaxAttempts = 0, SamplesPerShard = 0 }, DatasetLocation: "/somewhere");

        var problems = IngestSubmissions.Problems(request);

        Assert.Equal(new[] { "inputs", "output", "settings", "settings", "datasetLocation" }, problems.Select(p => p.Field));
        Assert.Contains(problems, p => p.Message == "settings.maxAttempts must be at least 1 (it is 0).");
        Assert.Contains(problems, p => p.Message == "settings.samplesPerShard must be at least 1 (it is 0).");
        var error = Assert.Throws<ArgumentException>(() => IngestSubmissions.ThrowIfInvalid(request));
        Assert.All(problems, p => Assert.Contains(p.Message, error.Message));
        Assert.Contains("is not a valid dataset name",
            Assert.Single(IngestSubmissions.Problems(new IngestJobRequest([Dump("c.tsv")], root, new IngestJobSettings(), "../up"))).Message);
    }

    [Fact]
    public void Watched_files_and_crawls_get_their_own_job_ids_and_output_folders()
    {
        var claimJob = IngestSubmissions.WatchedFileJobId("drops", "a.warc.gz");
        Assert.Equal(claimJob, IngestSubmissions.WatchedFileJobId("drops", "a.warc.gz"));
        Assert.NotEqual(claimJob, IngestSubmissions.WatchedFileJobId("drops", "b.warc.gz"));
        var watched = IngestSubmissions.ForWatchedFile(claimJob, "/in/a.warc.gz", "/work", "web");
        Assert.Equal((claimJob, Path.Combine("/work", claimJob)), (watched.JobId, watched.Request.OutputDirectory));
        Assert.True(watched.IsValid);

        var crawl = IngestSubmissions.ForCrawl("crawl-1", ["/crawl/warc/0.warc.gz"], "/crawl", new IngestJobSettings(), "web");
        Assert.Equal(("crawl-crawl-1", "/crawl/ingest", "web"), (crawl.JobId, crawl.Request.OutputDirectory, crawl.Request.Dataset));
        Assert.True(crawl.IsValid);
    }
}
