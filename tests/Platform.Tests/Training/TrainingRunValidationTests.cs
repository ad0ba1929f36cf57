using Platform.Datasets;
using Platform.Evaluation.Tests;
using Platform.Grains.Devices;
using Platform.Grains.Training;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Evaluation.Datasets;
using Platform.Model.Training;

namespace Platform.Tests.Training;

public sealed class TrainingRunValidationTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("run-validation-");

    public void Dispose() => _work.Delete(recursive: true);

    private string BenchmarkData()
    {
        string data = Path.Combine(_work.FullName, "data");
        BenchmarkGenerator.Generate(data, TinyBenchmarkModel.Benchmark(), TestContext.Current.CancellationToken);
        return data;
    }

    private static TrainingRunSpec Spec() => new() { RunId = "run-1", Dataset = "web/pairs", Steps = 100 };

    [Fact]
    public void A_sound_spec_with_evaluations_on_generated_benchmark_data_has_no_problems()
    {
        string data = BenchmarkData();
        var spec = Spec() with { Evaluations = [new RunEvaluation("coco-captions", data), new RunEvaluation("vqa", data), new RunEvaluation("retrieval", data)] };
        Assert.Empty(TrainingRunValidation.Problems(spec));
    }

    [Fact]
    public void Each_bad_setting_is_named_in_its_own_problem()
    {
        var spec = Spec() with
        {
            RunId = "no spaces", Dataset = "/abs", Steps = 0, Preset = "huge", Devices = 0, DeviceKind = "tpu", Precision = "fp8",
            Tokenizer = "words", TextDocuments = [Path.Combine(_work.FullName, "missing.jsonl")],
            Retention = new CheckpointRetentionPolicy { KeepLast = -1 },
        };
        var problems = TrainingRunValidation.Problems(spec);
        string[] expected = ["Run id 'no spaces'", "'/abs' is not a valid dataset name", "Steps must be at least 1", "Unknown preset 'huge'",
            "at least 1 device", "Device kind 'tpu'", "Precision 'fp8'", "Unknown tokenizer 'words'", "missing.jsonl cannot be read", "Retention"];
        Assert.Equal(expected.Length, problems.Count);
        foreach (string part in expected) Assert.Contains(problems, p => p.Contains(part, StringComparison.Ordinal));
    }

    [Fact]
    public void Evaluations_need_a_known_task_once_and_a_data_folder_with_the_split_the_task_reads()
    {
        string data = BenchmarkData();
        string missing = Path.Combine(_work.FullName, "nowhere");
        Assert.Contains("Unknown task 'ocr'", Assert.Single(TrainingRunValidation.Problems(Spec() with { Evaluations = [new RunEvaluation("ocr", data)] })));
        Assert.Contains("does not exist", Assert.Single(TrainingRunValidation.Problems(Spec() with { Evaluations = [new RunEvaluation("vqa", missing)] })));
        Assert.Contains("split 'dev'", Assert.Single(TrainingRunValidation.Problems(Spec() with { Evaluations = [new RunEvaluation("coco-captions", data, Split: "dev")] })));
        Assert.Contains("named 2 times", Assert.Single(TrainingRunValidation.Problems(Spec() with { Evaluations = [new RunEvaluation("vqa", data), new RunEvaluation("vqa", data, Split: "val")] })));
        Assert.Contains("beam size", Assert.Single(TrainingRunValidation.Problems(Spec() with { Evaluations = [new RunEvaluation("vqa", data, BeamSize: 0)] })));

        File.Delete(EvaluationDataLayout.VqaAnnotationsFile(data, "test"));
        Assert.Contains("vqa_annotations_test.json is missing", Assert.Single(TrainingRunValidation.Problems(Spec() with { Evaluations = [new RunEvaluation("vqa", data)] })));
        Assert.Empty(TrainingRunValidation.Problems(Spec() with { Evaluations = [new RunEvaluation("coco-captions", data)] }));
    }

    private static ClusterDevice Device(string silo, string kind, int index) => new($"127.0.0.1:{silo}@1", silo, kind, index, kind, 1L << 30, HeldByRun: null);

    private static readonly ManifestShard[] OneShard = [new("00000", 10, 1000, "sha", "file:///shards/00000.tar", DateTimeOffset.UnixEpoch)];

    [Fact]
    public void The_cluster_refuses_a_dataset_without_committed_shards_and_more_devices_of_a_kind_than_it_has_at_all()
    {
        ClusterDevice[] devices = [Device("a", "cpu", 0), Device("a", "cpu", 1), Device("b", "cuda", 0)];
        Assert.Empty(TrainingRunValidation.ClusterProblems(Spec() with { Devices = 2 }, OneShard, devices));
        Assert.Empty(TrainingRunValidation.ClusterProblems(Spec() with { DeviceKind = "cuda" }, OneShard, devices));

        Assert.Contains("has no committed shards", Assert.Single(TrainingRunValidation.ClusterProblems(Spec(), [], devices)));
        Assert.Equal("The run needs 3 devices of one kind; the cluster has 2 cpu, 1 cuda.", Assert.Single(TrainingRunValidation.ClusterProblems(Spec() with { Devices = 3 }, OneShard, devices)));
        Assert.Equal("The run needs 2 cuda device(s); the cluster has 2 cpu, 1 cuda.", Assert.Single(TrainingRunValidation.ClusterProblems(Spec() with { Devices = 2, DeviceKind = "cuda" }, OneShard, devices)));
        Assert.Contains("no devices", Assert.Single(TrainingRunValidation.ClusterProblems(Spec(), OneShard, [])));
    }

    [Fact]
    public void A_spec_s_defaults_are_the_model_library_s_training_defaults()
    {
        var spec = Spec() with { Steps = new TrainingOptions().Steps };
        Assert.Equal(new TrainingOptions() with { CheckpointDirectory = "run" }, TrainingRunRequests.Options(spec, "run"));
        var request = TrainingRunRequests.For(spec, [], "run");
        var modelDefaults = new TrainingRunRequest { Shards = [], Preset = Model.SimVlmConfig.Tiny, Options = new TrainingOptions() };
        Assert.Equal((modelDefaults.ShuffleBuffer, modelDefaults.Tokenizer), (request.ShuffleBuffer, request.Tokenizer));
        Assert.Equal(Model.SimVlmConfig.Tiny.Width, request.Preset.Width);
        Assert.Equal(Model.SimVlmConfig.Tiny.StageDepths, request.Preset.StageDepths);
    }
}
