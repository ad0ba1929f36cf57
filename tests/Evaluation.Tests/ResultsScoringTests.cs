using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Datasets;

namespace Platform.Evaluation.Tests;

public class ResultsScoringTests
{
    static CaptionDataset Captions() => new(
        [new CocoImage(1, "1.png", 8, 8), new CocoImage(2, "2.png", 8, 8)],
        new Dictionary<long, IReadOnlyList<string>> { [1] = ["A red cube.", "red cube"], [2] = ["A blue ball.", "blue ball"] },
        []);

    [Fact]
    public void Caption_results_are_scored_on_their_images()
    {
        // Both hypotheses equal a reference after tokenisation: BLEU-1 = 1 (lengths 3 and 3 vs closest 3),
        // ROUGE-L = 1. Ref-set df: "a" occurs in both images -> weight 0; the rest ln 2.
        var scores = ResultsScoring.ScoreCaptions(
            [new() { ImageId = 1, Caption = "a red cube" }, new() { ImageId = 2, Caption = "A blue ball" }], Captions(), "test");
        var named = scores.Scores.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal(1.0, named["Bleu_1"], 1e-8);
        Assert.Equal(1.0, named["ROUGE_L"], 1e-12);
        Assert.True(named["CIDEr"] > 0);
        Assert.Equal(["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"], scores.Scores.Select(p => p.Key));
        Assert.Equal(2, scores.Scored);
        Assert.Empty(scores.SkippedAnnotations);
    }

    [Fact]
    public void Caption_results_for_unknown_or_repeated_images_are_rejected()
    {
        var unknown = Assert.Throws<ResultsMismatchException>(() => ResultsScoring.ScoreCaptions([new() { ImageId = 3, Caption = "x" }], Captions(), "test"));
        Assert.Contains("first: 3", unknown.Message);
        var repeated = Assert.Throws<ResultsMismatchException>(() => ResultsScoring.ScoreCaptions(
            [new() { ImageId = 1, Caption = "x" }, new() { ImageId = 1, Caption = "y" }], Captions(), "test"));
        Assert.Contains("repeats image 1", repeated.Message);
        Assert.Throws<ResultsMismatchException>(() => ResultsScoring.ScoreCaptions([new() { ImageId = 1 }], Captions(), "test"));
    }

    static VqaDataset Vqa()
    {
        string[] tenYes = Enumerable.Repeat("yes", 10).ToArray();
        string[] mixed = [.. Enumerable.Repeat("2", 3), .. Enumerable.Repeat("3", 7)];
        return new VqaDataset(
            new Dictionary<long, VqaQuestion> { [1] = new(1, 1, "Is it red?"), [2] = new(2, 1, "How many?") },
            new Dictionary<long, VqaAnnotation>
            {
                [1] = new(1, 1, "is it", "yes/no", "yes", tenYes),
                [2] = new(2, 1, "how many", "number", "3", mixed),
            },
            []);
    }

    [Fact]
    public void Vqa_results_score_the_official_accuracy()
    {
        // q1 "yes" vs ten "yes" -> 1. q2 "two" vs 3 x "2" + 7 x "3": answers disagree -> normalised, "two" -> "2";
        // leave-one-out: (3 x 2/3 + 7 x 1)/10 = 0.9. Overall (1 + 0.9)/2 x 100 = 95.
        var scores = ResultsScoring.ScoreVqa([new() { QuestionId = 1, Answer = "yes" }, new() { QuestionId = 2, Answer = "two" }], Vqa(), "val");
        var named = scores.Scores.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal(95.0, named["overall"], 1e-9);
        Assert.Equal(100.0, named["yes/no"], 1e-9);
        Assert.Equal(90.0, named["number"], 1e-9);
    }

    [Fact]
    public void Vqa_results_must_answer_exactly_the_annotated_questions()
    {
        var error = Assert.Throws<ResultsMismatchException>(() =>
            ResultsScoring.ScoreVqa([new() { QuestionId = 1, Answer = "yes" }, new() { QuestionId = 9, Answer = "no" }], Vqa(), "val"));
        Assert.Contains("1 missing (first: 2)", error.Message);
        Assert.Contains("1 not annotated (first: 9)", error.Message);
    }

    [Fact]
    public void Caption_references_come_from_the_karpathy_file_when_the_split_has_no_captions_file()
    {
        using var folder = new TempFolder();
        folder.Write("annotations/karpathy_splits.json", """
            {"images": [{"filepath": "val2014", "filename": "a.jpg", "imgid": 0, "split": "test", "cocoid": 42,
                         "sentences": [{"raw": "A dog.", "tokens": ["a", "dog"]}]}], "dataset": "coco"}
            """);
        var results = folder.Write("results.json", """[{"image_id": 42, "caption": "a dog"}]""");
        var scores = ResultsScoring.ScoreFile(EvaluationTask.CocoCaptions, results, folder.Path, "test");
        Assert.Equal(1, scores.Scored);
        Assert.Equal(1.0, scores.Scores.Single(s => s.Key == "ROUGE_L").Value, 1e-12);

        folder.Write("bad/annotations/captions_test.json", """
            {"images": [{"id": 42, "file_name": "a.jpg"}],
             "annotations": [{"image_id": 42, "id": 1, "caption": "A dog."}, {"image_id": 7, "id": 2, "caption": "Orphan."}]}
            """);
        var withSkipped = ResultsScoring.ScoreFile(EvaluationTask.CocoCaptions, results, Path.Combine(folder.Path, "bad"), "test");
        Assert.Contains("unknown image 7", Assert.Single(withSkipped.SkippedAnnotations).Reason);

        var missing = Assert.Throws<FileNotFoundException>(() => ResultsScoring.ScoreFile(EvaluationTask.CocoCaptions, results, Path.Combine(folder.Path, "none"), "test"));
        Assert.Contains("captions_test.json", missing.Message);
    }

    [Fact]
    public void Task_names_parse_and_unknown_ones_fail_clearly()
    {
        Assert.Equal(EvaluationTask.CocoCaptions, ResultsScoring.ParseTask("coco-captions"));
        Assert.Equal(EvaluationTask.Vqa, ResultsScoring.ParseTask("vqa"));
        Assert.Equal(EvaluationTask.SnliVe, ResultsScoring.ParseTask("snli-ve"));
        Assert.Equal(EvaluationTask.Nlvr2, ResultsScoring.ParseTask("nlvr2"));
        Assert.Equal(EvaluationTask.NoCaps, ResultsScoring.ParseTask("nocaps"));
        Assert.All(Enum.GetValues<EvaluationTask>(), task => Assert.Equal(task, ResultsScoring.ParseTask(ResultsScoring.TaskName(task))));
        Assert.Contains("expected coco-captions, vqa, retrieval, snli-ve, nlvr2, nocaps", Assert.Throws<ArgumentException>(() => ResultsScoring.ParseTask("flickr-captions")).Message);
    }
}
