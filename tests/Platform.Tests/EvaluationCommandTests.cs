using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Evaluation.Tests;
using Platform.Model.Evaluation.Benchmark;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

/// <summary>`platform benchmark-data` and `platform eval` (results files and checkpoints) as a user runs them.</summary>
public sealed class EvaluationCommandTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("eval-cli-");

    public void Dispose() => _work.Delete(recursive: true);

    [Fact]
    public async Task Benchmark_data_is_byte_identical_for_a_seed_and_differs_for_another()
    {
        string Run(string name) => Path.Combine(_work.FullName, name);
        Assert.Equal(0, (await PlatformCommand.RunAsync(Timeout, "benchmark-data", "--out", Run("a"), "--images", "20", "--seed", "7")).ExitCode);
        Assert.Equal(0, (await PlatformCommand.RunAsync(Timeout, "benchmark-data", "--out", Run("b"), "--images", "20", "--seed", "7")).ExitCode);
        Assert.Equal(0, (await PlatformCommand.RunAsync(Timeout, "benchmark-data", "--out", Run("c"), "--images", "20", "--seed", "8")).ExitCode);

        var files = Directory.GetFiles(Run("a"), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Run("a"), f)).Order().ToArray();
        Assert.Contains(Path.Combine("annotations", "captions_test.json"), files);
        Assert.Contains(Path.Combine("annotations", "vqa_annotations_test.json"), files);
        foreach (var file in files)
            Assert.Equal(File.ReadAllBytes(Path.Combine(Run("a"), file)), File.ReadAllBytes(Path.Combine(Run("b"), file)));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(Run("a"), "annotations", "captions_test.json")),
            File.ReadAllBytes(Path.Combine(Run("c"), "annotations", "captions_test.json")));
    }

    [Fact]
    public async Task Eval_scores_results_files_against_the_annotations_and_ends_with_the_scores_as_json()
    {
        var data = Path.Combine(_work.FullName, "data");
        Assert.Equal(0, (await PlatformCommand.RunAsync(Timeout, "benchmark-data", "--out", data, "--images", "40", "--seed", "11")).ExitCode);
        var annotations = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(data, "annotations", "vqa_annotations_test.json"), TestContext.Current.CancellationToken))!["annotations"]!.AsArray();

        var majority = Path.Combine(_work.FullName, "vqa-majority.json");
        await File.WriteAllTextAsync(majority, new JsonArray(annotations.Select(a => (JsonNode)new JsonObject
        {
            ["question_id"] = a!["question_id"]!.GetValue<long>(),
            ["answer"] = a["multiple_choice_answer"]!.GetValue<string>(),
        }).ToArray()).ToJsonString(), TestContext.Current.CancellationToken);
        var wrong = Path.Combine(_work.FullName, "vqa-wrong.json");
        await File.WriteAllTextAsync(wrong, new JsonArray(annotations.Select(a => (JsonNode)new JsonObject
        {
            ["question_id"] = a!["question_id"]!.GetValue<long>(),
            ["answer"] = "zebra crossing",
        }).ToArray()).ToJsonString(), TestContext.Current.CancellationToken);

        var good = await PlatformCommand.RunAsync(Timeout, "eval", "--results", majority, "--task", "vqa", "--data", data);
        Assert.True(good.ExitCode == 0, good.StandardError);
        Assert.Contains("overall", good.StandardOutput);
        var goodScore = JsonDocument.Parse(good.LastLine).RootElement.GetProperty("overall").GetDouble();
        var bad = await PlatformCommand.RunAsync(Timeout, "eval", "--results", wrong, "--task", "vqa", "--data", data);
        Assert.Equal(0, JsonDocument.Parse(bad.LastLine).RootElement.GetProperty("overall").GetDouble());
        Assert.InRange(goodScore, 90, 100);

        // Captions: a results file that repeats one reference per image scores near 1 on BLEU-1; an unknown image id is an error.
        var captions = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(data, "annotations", "captions_test.json"), TestContext.Current.CancellationToken))!["annotations"]!.AsArray();
        var firstPerImage = captions.GroupBy(c => c!["image_id"]!.GetValue<long>()).Select(g => (JsonNode)new JsonObject
        {
            ["image_id"] = g.Key,
            ["caption"] = g.First()!["caption"]!.GetValue<string>(),
        }).ToArray();
        var results = Path.Combine(_work.FullName, "captions.json");
        await File.WriteAllTextAsync(results, new JsonArray(firstPerImage).ToJsonString(), TestContext.Current.CancellationToken);
        var scored = await PlatformCommand.RunAsync(Timeout, "eval", "--results", results, "--task", "coco-captions", "--data", data);
        Assert.True(scored.ExitCode == 0, scored.StandardError);
        var scores = JsonDocument.Parse(scored.LastLine).RootElement;
        Assert.InRange(scores.GetProperty("Bleu_1").GetDouble(), 0.99, 1.0);
        Assert.True(scores.GetProperty("CIDEr").GetDouble() > 1.0);

        var unknown = Path.Combine(_work.FullName, "unknown.json");
        await File.WriteAllTextAsync(unknown, """[{"image_id": 987654321, "caption": "a red circle"}]""", TestContext.Current.CancellationToken);
        var refused = await PlatformCommand.RunAsync(Timeout, "eval", "--results", unknown, "--task", "coco-captions", "--data", data);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("987654321", refused.StandardError + refused.StandardOutput);
    }

    [Fact]
    public async Task Eval_reads_vqa_files_under_their_download_names_and_names_what_it_looked_for_when_they_are_missing()
    {
        var data = Path.Combine(_work.FullName, "data");
        Assert.Equal(0, (await PlatformCommand.RunAsync(Timeout, "benchmark-data", "--out", data, "--images", "20", "--seed", "5")).ExitCode);
        var downloaded = Path.Combine(_work.FullName, "downloaded");
        Directory.CreateDirectory(downloaded);
        File.Copy(Path.Combine(data, "annotations", "vqa_questions_test.json"), Path.Combine(downloaded, "v2_OpenEnded_mscoco_test_questions.json"));
        File.Copy(Path.Combine(data, "annotations", "vqa_annotations_test.json"), Path.Combine(downloaded, "v2_mscoco_test_annotations.json"));
        var annotations = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(downloaded, "v2_mscoco_test_annotations.json"), TestContext.Current.CancellationToken))!["annotations"]!.AsArray();
        var results = Path.Combine(_work.FullName, "answers.json");
        await File.WriteAllTextAsync(results, new JsonArray(annotations.Select(a => (JsonNode)new JsonObject
        {
            ["question_id"] = a!["question_id"]!.GetValue<long>(),
            ["answer"] = a["multiple_choice_answer"]!.GetValue<string>(),
        }).ToArray()).ToJsonString(), TestContext.Current.CancellationToken);

        var scored = await PlatformCommand.RunAsync(Timeout, "eval", "--results", results, "--task", "vqa", "--data", downloaded);
        Assert.True(scored.ExitCode == 0, scored.StandardError);
        Assert.InRange(JsonDocument.Parse(scored.LastLine).RootElement.GetProperty("overall").GetDouble(), 90, 100);

        var missing = await PlatformCommand.RunAsync(Timeout, "eval", "--results", results, "--task", "vqa", "--data", downloaded, "--split", "val2014");
        Assert.Equal(2, missing.ExitCode);
        var line = Assert.Single(missing.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains("vqa_questions_val2014.json", line);
        Assert.Contains("v2_OpenEnded_mscoco_val2014_questions.json", line);
        Assert.DoesNotContain("Unhandled", line);
    }

    [Fact]
    public async Task Eval_scores_a_checkpoint_on_snli_ve_nlvr2_and_nocaps_from_benchmark_data_and_the_outputs_rescore_to_the_same_numbers()
    {
        var data = Path.Combine(_work.FullName, "data");
        var generated = await PlatformCommand.RunAsync(Timeout, "benchmark-data", "--out", data, "--images", "40", "--image-size", "32", "--seed", "9");
        Assert.True(generated.ExitCode == 0, generated.StandardError);
        Assert.Contains("SNLI-VE pairs", generated.StandardOutput);
        var checkpoint = TinyBenchmarkModel.Checkpoint(data, Path.Combine(_work.FullName, "run"), steps: 3, allTasks: true);
        string Out(string task) => Path.Combine(_work.FullName, "out-" + task);
        JsonElement ScoresFile(string task) =>
            JsonDocument.Parse(File.ReadAllText(Path.Combine(Out(task), "scores.json"))).RootElement;

        var snli = await PlatformCommand.RunAsync(Timeout, "eval", "--checkpoint", checkpoint, "--task", "snli-ve", "--data", data, "--out", Out("snli-ve"),
            "--finetune", "--finetune-steps", "10", "--finetune-lr", "0.001");
        Assert.True(snli.ExitCode == 0, snli.StandardError);
        var accuracy = JsonDocument.Parse(snli.LastLine).RootElement.GetProperty("accuracy").GetDouble();
        Assert.Equal(("snli-ve", 10), (ScoresFile("snli-ve").GetProperty("task").GetString(), ScoresFile("snli-ve").GetProperty("fine_tune").GetProperty("steps").GetInt32()));
        var rescored = await PlatformCommand.RunAsync(Timeout, "eval", "--results", Path.Combine(Out("snli-ve"), "predictions.json"), "--task", "snli-ve", "--data", data);
        Assert.True(rescored.ExitCode == 0, rescored.StandardError);
        Assert.Equal(accuracy, JsonDocument.Parse(rescored.LastLine).RootElement.GetProperty("accuracy").GetDouble(), 9);

        var nlvr2 = await PlatformCommand.RunAsync(Timeout, "eval", "--checkpoint", checkpoint, "--task", "nlvr2", "--data", data, "--out", Out("nlvr2"));
        Assert.True(nlvr2.ExitCode == 0, nlvr2.StandardError);
        Assert.InRange(JsonDocument.Parse(nlvr2.LastLine).RootElement.GetProperty("accuracy").GetDouble(), 0, 100);
        var predictions = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(Out("nlvr2"), "predictions.json"), TestContext.Current.CancellationToken))!.AsArray();
        Assert.All(predictions, p => Assert.Contains(p!["prediction"]!.GetValue<string>(), new[] { "true", "false" }));
        Assert.All(predictions, p => Assert.Equal(2, p!["images"]!.AsArray().Count));

        var noCaps = await PlatformCommand.RunAsync(Timeout, "eval", "--checkpoint", checkpoint, "--task", "nocaps", "--data", data, "--out", Out("nocaps"), "--prompt", "");
        Assert.True(noCaps.ExitCode == 0, noCaps.StandardError);
        var noCapsScores = JsonDocument.Parse(noCaps.LastLine).RootElement;
        var domains = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(data, "annotations", "nocaps_test.json"), TestContext.Current.CancellationToken))!["images"]!.AsArray()
            .Select(i => i!["domain"]!.GetValue<string>()).Distinct().ToArray();
        Assert.NotEmpty(domains);
        Assert.All(domains, domain => Assert.True(noCapsScores.TryGetProperty($"CIDEr_{domain}", out _), $"no CIDEr_{domain} in {noCaps.LastLine}"));
        var rescoredCaptions = await PlatformCommand.RunAsync(Timeout, "eval", "--results", Path.Combine(Out("nocaps"), "captions.json"), "--task", "nocaps", "--data", data);
        Assert.Equal(noCaps.LastLine, rescoredCaptions.LastLine);
    }

    [Fact]
    public async Task Eval_scores_a_checkpoint_on_each_task_and_writes_outputs_that_rescore_to_the_same_numbers()
    {
        var data = Path.Combine(_work.FullName, "data");
        BenchmarkGenerator.Generate(data, TinyBenchmarkModel.Benchmark(), TestContext.Current.CancellationToken);
        var checkpoint = TinyBenchmarkModel.Checkpoint(data, Path.Combine(_work.FullName, "run"), steps: 3);
        string Out(string task) => Path.Combine(_work.FullName, "out-" + task);

        var captions = await PlatformCommand.RunAsync(Timeout, "eval", "--checkpoint", checkpoint, "--task", "coco-captions", "--data", data, "--out", Out("captions"));
        Assert.True(captions.ExitCode == 0, captions.StandardError);
        var cider = JsonDocument.Parse(captions.LastLine).RootElement.GetProperty("CIDEr").GetDouble();
        var scoresFile = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Out("captions"), "scores.json"), TestContext.Current.CancellationToken)).RootElement;
        Assert.Equal(("coco-captions", 3, 15), (scoresFile.GetProperty("task").GetString(), scoresFile.GetProperty("step").GetInt32(), scoresFile.GetProperty("scored").GetInt32()));
        Assert.Equal(cider, scoresFile.GetProperty("scores").GetProperty("CIDEr").GetDouble());
        Assert.Equal("A picture of", scoresFile.GetProperty("settings").GetProperty("prompt").GetString());
        // captions.json is a standard results file: scoring it gives the same CIDEr.
        var rescored = await PlatformCommand.RunAsync(Timeout, "eval", "--results", Path.Combine(Out("captions"), "captions.json"), "--task", "coco-captions", "--data", data);
        Assert.Equal(cider, JsonDocument.Parse(rescored.LastLine).RootElement.GetProperty("CIDEr").GetDouble());

        var vqa = await PlatformCommand.RunAsync(Timeout, "eval", "--checkpoint", checkpoint, "--task", "vqa", "--data", data, "--out", Out("vqa"), "--beam", "2");
        Assert.True(vqa.ExitCode == 0, vqa.StandardError);
        var answers = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(Out("vqa"), "answers.json"), TestContext.Current.CancellationToken))!.AsArray();
        var questions = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(data, "annotations", "vqa_questions_test.json"), TestContext.Current.CancellationToken))!["questions"]!.AsArray();
        Assert.Equal(questions.Select(q => q!["question_id"]!.GetValue<long>()).Order(), answers.Select(a => a!["question_id"]!.GetValue<long>()).Order());
        var vqaScores = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Out("vqa"), "scores.json"), TestContext.Current.CancellationToken)).RootElement;
        Assert.Equal((questions.Count, JsonDocument.Parse(vqa.LastLine).RootElement.GetProperty("overall").GetDouble()),
            (vqaScores.GetProperty("scored").GetInt32(), vqaScores.GetProperty("scores").GetProperty("overall").GetDouble()));

        var retrieval = await PlatformCommand.RunAsync(Timeout, "eval", "--checkpoint", checkpoint, "--task", "retrieval", "--data", data, "--out", Out("retrieval"));
        Assert.True(retrieval.ExitCode == 0, retrieval.StandardError);
        Assert.Contains("mean log-likelihood", retrieval.StandardOutput);
        Assert.Matches(@"retrieval_seconds: \d+\.\d\d \(\d+ pairs/s\)", retrieval.StandardOutput);
        var recall = JsonDocument.Parse(retrieval.LastLine).RootElement;
        var ranks = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Out("retrieval"), "ranks.json"), TestContext.Current.CancellationToken)).RootElement;
        Assert.Equal(15, ranks.GetProperty("image_to_text").GetArrayLength());
        Assert.Equal(75, ranks.GetProperty("text_to_image").GetArrayLength());
        // R@1 image-to-text recomputed from the written ranks.
        var hits = ranks.GetProperty("image_to_text").EnumerateArray().Count(r => r.GetProperty("rank").GetInt32() < 1);
        Assert.Equal(100.0 * hits / 15, recall.GetProperty("i2t_R@1").GetDouble(), 9);

    }
}
