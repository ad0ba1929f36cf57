using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Evaluation.Datasets;
using SkiaSharp;

namespace Platform.Evaluation.Tests;

/// <summary>SNLI-VE, NLVR2 and NoCaps: their files as published, their scores, and the generated offline data.</summary>
public class TaskFormatTests
{
    // Lines as in SNLI-VE's snli_ve_dev.jsonl (fields trimmed to those read plus a few the reader must ignore).
    const string SnliVeLines = """
        {"annotator_labels": ["neutral"], "captionID": "2267923837.jpg#2", "gold_label": "neutral", "pairID": "2267923837.jpg#2r1n", "sentence1": "A child holding a flower.", "sentence2": "The child is in a park.", "Flickr30K_ID": "2267923837"}
        {"annotator_labels": ["entailment"], "captionID": "2267923837.jpg#2", "gold_label": "entailment", "pairID": "2267923837.jpg#2r1e", "sentence1": "A child holding a flower.", "sentence2": "A child holds something.", "Flickr30K_ID": "2267923837"}

        {"annotator_labels": ["contradiction"], "captionID": "2267923837.jpg#2", "gold_label": "contradiction", "pairID": "2267923837.jpg#2r1c", "sentence1": "A child holding a flower.", "sentence2": "Nobody is holding anything.", "Flickr30K_ID": "2267923837"}
        {"gold_label": "-", "pairID": "x", "sentence2": "No consensus.", "Flickr30K_ID": "1"}
        not json
        """;

    // Lines as in NLVR2's dev.json.
    const string Nlvr2Lines = """
        {"validation": {}, "sentence": "The left image contains twice the number of dogs as the right image.", "left_url": "https://example.org/a.jpg", "writer": "103", "label": "False", "right_url": "https://example.org/b.jpg", "synset": "dog", "query": "dogs", "identifier": "dev-850-0-0", "extra_validations": {}}
        {"sentence": "One image shows exactly two dogs.", "label": "True", "identifier": "dev-850-0-1"}
        {"sentence": "Train images sit in numbered folders.", "label": "True", "identifier": "train-10171-0-0", "directory": 5}
        """;

    [Fact]
    public void Snli_ve_lines_read_with_the_flickr_image_and_bad_lines_are_skipped_with_reasons()
    {
        using var folder = new TempFolder();
        var dataset = DatasetReaders.ReadSnliVe(folder.Write("snli_ve_dev.jsonl", SnliVeLines));
        Assert.Equal(["neutral", "entailment", "contradiction"], dataset.Examples.Select(e => e.Label));
        Assert.All(dataset.Examples, e => Assert.Equal(["2267923837.jpg"], e.Images));
        Assert.Equal("2267923837.jpg#2r1e", dataset.Examples[1].Id);
        Assert.Equal("A child holds something.", dataset.Examples[1].Text);
        Assert.Equal(2, dataset.Skipped.Count);
        Assert.Contains("gold_label '-'", dataset.Skipped[0].Reason);
        Assert.Contains("not a JSON object", dataset.Skipped[1].Reason);
    }

    [Fact]
    public void Nlvr2_lines_name_both_images_from_the_identifier()
    {
        using var folder = new TempFolder();
        var dataset = DatasetReaders.ReadNlvr2(folder.Write("dev.json", Nlvr2Lines));
        Assert.Equal(["false", "true", "true"], dataset.Examples.Select(e => e.Label));
        Assert.Equal(["dev-850-0-img0.png", "dev-850-0-img1.png"], dataset.Examples[0].Images);
        Assert.Equal(["5/train-10171-0-img0.png", "5/train-10171-0-img1.png"], dataset.Examples[2].Images);
        Assert.Empty(dataset.Skipped);
    }

    [Fact]
    public void Label_accuracy_is_the_percentage_of_predictions_equal_to_the_gold_label_per_label_too()
    {
        using var folder = new TempFolder();
        folder.Write("snli_ve_dev.jsonl", SnliVeLines);
        var results = folder.Write("predictions.json", """
            [{"id": "2267923837.jpg#2r1n", "prediction": "Neutral."}, {"id": "2267923837.jpg#2r1e", "prediction": "entailment"}, {"id": "2267923837.jpg#2r1c", "prediction": "neutral"}]
            """);
        var scores = ResultsScoring.ScoreFile(EvaluationTask.SnliVe, results, folder.Path, "dev").Scores.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal(200.0 / 3, scores["accuracy"], 1e-9);
        Assert.Equal(100.0, scores["neutral"], 1e-9);
        Assert.Equal(0.0, scores["contradiction"], 1e-9);

        var partial = folder.Write("partial.json", """[{"id": "2267923837.jpg#2r1n", "prediction": "neutral"}]""");
        Assert.Contains("2 missing", Assert.Throws<ResultsMismatchException>(() => ResultsScoring.ScoreFile(EvaluationTask.SnliVe, partial, folder.Path, "dev")).Message);
        var missing = Assert.Throws<FileNotFoundException>(() => ResultsScoring.ScoreFile(EvaluationTask.Nlvr2, results, folder.Path, "dev"));
        Assert.Contains(Path.Combine("data", "dev.json"), missing.Message);
    }

    [Fact]
    public void NoCaps_reports_CIDEr_per_domain_scored_on_that_domains_images_alone_and_overall()
    {
        using var folder = new TempFolder();
        folder.Write("nocaps_val_4500_captions.json", """
            {"licenses": [], "info": {"url": "https://nocaps.org", "date_created": "2018/11/06", "version": "0.1", "description": "nocaps validation dataset", "contributor": "nocaps team", "year": 2018},
             "images": [{"id": 0, "open_images_id": "0013ea2087020901", "height": 1024, "width": 732, "coco_url": "https://s3.amazonaws.com/nocaps/val/0013ea2087020901.jpg", "file_name": "0013ea2087020901.jpg", "license": 0, "date_captured": "2018-11-06 11:04:33", "domain": "in-domain"},
                        {"id": 1, "file_name": "0002.jpg", "domain": "near-domain"},
                        {"id": 2, "file_name": "0003.jpg", "domain": "out-domain"},
                        {"id": 3, "file_name": "0004.jpg", "domain": "out-domain"},
                        {"id": 4, "file_name": "0005.jpg", "domain": "in-domain"},
                        {"id": 5, "file_name": "0006.jpg", "domain": "near-domain"}],
             "annotations": [{"image_id": 0, "id": 0, "caption": "A baby is standing in front of a house."}, {"image_id": 0, "id": 1, "caption": "A little girl in a white jacket and sandals."},
                             {"image_id": 1, "id": 2, "caption": "A red bus parked beside a road."}, {"image_id": 1, "id": 3, "caption": "The bus on the street is red."},
                             {"image_id": 2, "id": 4, "caption": "A jellyfish floats in dark water."}, {"image_id": 2, "id": 5, "caption": "An orange jellyfish swimming."},
                             {"image_id": 3, "id": 6, "caption": "A lynx walks through snow."}, {"image_id": 3, "id": 7, "caption": "A wild cat in the snow."},
                             {"image_id": 4, "id": 8, "caption": "Two people ride bicycles."}, {"image_id": 5, "id": 9, "caption": "A kite flies over a beach."}]}
            """);
        var results = folder.Write("captions.json", """
            [{"image_id": 0, "caption": "A baby is standing in front of a house."}, {"image_id": 1, "caption": "a red bus parked beside a road"},
             {"image_id": 2, "caption": "a dog on a sofa"}, {"image_id": 3, "caption": "a dog on a sofa"},
             {"image_id": 4, "caption": "two people ride bicycles"}, {"image_id": 5, "caption": "a kite over a beach"}]
            """);
        var scores = ResultsScoring.ScoreFile(EvaluationTask.NoCaps, results, folder.Path, "val").Scores.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal(0.0, scores["CIDEr_out-domain"], 1e-9);
        Assert.True(scores["CIDEr_in-domain"] > 0 && scores["CIDEr_near-domain"] > 0);
        Assert.True(scores["CIDEr"] > 0);
        Assert.Contains("Bleu_4", scores.Keys);
        // Each domain is scored alone (its own document frequencies), so the overall CIDEr is no image-weighted mean of the domains'.
        Assert.NotEqual((2 * scores["CIDEr_in-domain"] + 2 * scores["CIDEr_near-domain"] + 2 * scores["CIDEr_out-domain"]) / 6, scores["CIDEr"], 6);
    }

    [Fact]
    public void Generated_snli_ve_nlvr2_and_nocaps_files_load_through_their_readers_with_every_label()
    {
        using var folder = new TempFolder();
        var options = new BenchmarkOptions { Seed = 4, Images = 30, ImageSize = 32 };
        var summary = BenchmarkGenerator.Generate(folder.Path, options, TestContext.Current.CancellationToken);
        Assert.Equal(3 * 30, summary.Tasks!.EntailmentPairs);
        foreach (var split in EvaluationDataLayout.Splits)
        {
            var snli = ResultsScoring.ReadLabelledSplit(EvaluationTask.SnliVe, folder.Path, split);
            Assert.Empty(snli.Skipped);
            Assert.Equal(3 * summary.ImagesPerSplit[split], snli.Examples.Count);
            Assert.Equal(snli.Examples.Count / 3, snli.Examples.Count(e => e.Label == "contradiction"));
            foreach (var image in snli.Examples.Select(e => e.Images[0]).Distinct())
                Assert.True(File.Exists(Path.Combine(EvaluationDataLayout.ImagesFolder(folder.Path, split), Path.ChangeExtension(image, ".png"))), image);

            var nlvr2 = ResultsScoring.ReadLabelledSplit(EvaluationTask.Nlvr2, folder.Path, split);
            Assert.Empty(nlvr2.Skipped);
            Assert.Equal(2 * summary.ImagesPerSplit[split], nlvr2.Examples.Count);
            Assert.Equal(summary.ImagesPerSplit[split], Directory.GetFiles(EvaluationDataLayout.ImagesFolder(folder.Path, split)).Length);
            foreach (var example in nlvr2.Examples)
                foreach (var image in example.Images)
                {
                    using var bitmap = SKBitmap.Decode(Path.Combine(EvaluationDataLayout.Nlvr2ImagesFolder(folder.Path, split), image));
                    Assert.Equal(32, bitmap.Width);
                }
            if (split == "train")
            {
                Assert.Contains(nlvr2.Examples, e => e.Label == "true");
                Assert.Contains(nlvr2.Examples, e => e.Label == "false");
                continue;
            }
            var noCaps = ResultsScoring.ReadNoCapsReferences(folder.Path, split);
            Assert.Equal(summary.ImagesPerSplit[split], noCaps.Images.Count);
            Assert.All(noCaps.Images, i => Assert.Contains(noCaps.Domains![i.Id], ResultsScoring.NoCapsDomains));
        }
    }
}
