using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

/// <summary>`platform benchmark-data` and `platform eval --results` as a user runs them.</summary>
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
}
