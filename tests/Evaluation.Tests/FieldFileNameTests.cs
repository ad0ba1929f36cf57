using Platform.Model;
using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Evaluation.Checkpoints;
using Platform.Model.Evaluation.Datasets;

namespace Platform.Evaluation.Tests;

/// <summary>The field's files are read under the names they are downloaded with, beside our own names.</summary>
public class FieldFileNameTests
{
    // Shapes and field names as in VQAv2's v2_OpenEnded_mscoco_val2014_questions.json / v2_mscoco_val2014_annotations.json.
    const string VqaQuestions = """
        {"info": {"description": "This is v2.0 of the VQA dataset.", "version": "2.0", "year": 2017},
         "task_type": "Open-Ended", "data_type": "mscoco", "license": {"url": "http://creativecommons.org/licenses/by/4.0/", "name": "Creative Commons Attribution 4.0 International License"},
         "data_subtype": "val2014",
         "questions": [{"image_id": 262148, "question": "Where is he looking?", "question_id": 262148000}]}
        """;

    const string VqaAnnotations = """
        {"info": {"version": "2.0", "year": 2017}, "license": {"name": "CC BY 4.0"}, "data_subtype": "val2014", "data_type": "mscoco",
         "annotations": [{"question_type": "none of the above", "multiple_choice_answer": "down", "image_id": 262148, "answer_type": "other", "question_id": 262148000,
           "answers": [{"answer": "down", "answer_confidence": "yes", "answer_id": 1}, {"answer": "down", "answer_confidence": "yes", "answer_id": 2},
                       {"answer": "at table", "answer_confidence": "yes", "answer_id": 3}, {"answer": "skateboard", "answer_confidence": "yes", "answer_id": 4},
                       {"answer": "down", "answer_confidence": "yes", "answer_id": 5}, {"answer": "table", "answer_confidence": "yes", "answer_id": 6},
                       {"answer": "down", "answer_confidence": "yes", "answer_id": 7}, {"answer": "down", "answer_confidence": "yes", "answer_id": 8},
                       {"answer": "down", "answer_confidence": "yes", "answer_id": 9}, {"answer": "down", "answer_confidence": "yes", "answer_id": 10}]}]}
        """;

    // As in COCO's annotations/captions_val2014.json.
    const string CocoCaptions = """
        {"info": {"description": "This is stable 1.0 version of the 2014 MS COCO dataset.", "url": "http://mscoco.org", "version": "1.0", "year": 2014, "contributor": "Microsoft COCO group", "date_created": "2015-01-27 09:11:52.357475"},
         "images": [{"license": 3, "url": "http://mscoco.org/images/262148", "file_name": "COCO_val2014_000000262148.jpg", "height": 512, "width": 640, "date_captured": "2013-11-20 05:50:03", "id": 262148}],
         "licenses": [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1, "name": "Attribution-NonCommercial-ShareAlike License"}],
         "annotations": [{"image_id": 262148, "id": 1, "caption": "A skateboarder looks down at his board."}]}
        """;

    // As in Karpathy's dataset_coco.json.
    const string KarpathyCoco = """
        {"images": [{"filepath": "val2014", "sentids": [770337], "filename": "COCO_val2014_000000391895.jpg", "imgid": 0, "split": "test",
                     "sentences": [{"tokens": ["a", "man", "with", "a", "red", "helmet"], "raw": "A man with a red helmet on a small moped on a dirt road. ", "imgid": 0, "sentid": 770337}],
                     "cocoid": 391895}], "dataset": "coco"}
        """;

    [Fact]
    public void Vqa_files_are_read_under_their_download_names_in_the_folder_or_in_annotations()
    {
        foreach (var place in new[] { "", "annotations/" })
        {
            using var folder = new TempFolder();
            folder.Write($"{place}v2_OpenEnded_mscoco_val2014_questions.json", VqaQuestions);
            folder.Write($"{place}v2_mscoco_val2014_annotations.json", VqaAnnotations);
            var results = folder.Write("results.json", """[{"question_id": 262148000, "answer": "down"}]""");
            var scores = ResultsScoring.ScoreFile(EvaluationTask.Vqa, results, folder.Path, "val2014");
            Assert.Equal(1, scores.Scored);
            Assert.Equal(100.0, scores.Scores.Single(s => s.Key == "overall").Value, 1e-9);
        }
    }

    [Fact]
    public void Coco_captions_and_karpathy_files_are_read_under_their_download_names()
    {
        using var folder = new TempFolder();
        folder.Write("captions_val2014.json", CocoCaptions);
        folder.Write("dataset_coco.json", KarpathyCoco);
        var coco = ResultsScoring.ReadCaptionReferences(folder.Path, "val2014");
        Assert.Equal("COCO_val2014_000000262148.jpg", Assert.Single(coco.Images).FileName);
        var karpathy = ResultsScoring.ReadCaptionReferences(folder.Path, "test");
        Assert.Equal(391895, Assert.Single(karpathy.Images).Id);
        Assert.Equal("val2014/COCO_val2014_000000391895.jpg", karpathy.Images[0].FileName);

        // Our own name still wins when both are there.
        folder.Write("annotations/captions_val2014.json", CocoCaptions.Replace("A skateboarder looks down at his board.", "Ours."));
        Assert.Equal("Ours.", Assert.Single(ResultsScoring.ReadCaptionReferences(folder.Path, "val2014").Captions[262148]));
    }

    [Fact]
    public void A_missing_file_is_one_line_that_names_every_file_looked_for()
    {
        using var folder = new TempFolder();
        var vqa = Assert.Throws<FileNotFoundException>(() => ResultsScoring.ReadVqaSplit(folder.Path, "val2014"));
        Assert.DoesNotContain('\n', vqa.Message);
        Assert.Contains(Path.Combine("annotations", "vqa_questions_val2014.json"), vqa.Message);
        Assert.Contains("v2_OpenEnded_mscoco_val2014_questions.json", vqa.Message);

        folder.Write("v2_OpenEnded_mscoco_val2014_questions.json", VqaQuestions);
        var annotations = Assert.Throws<FileNotFoundException>(() => ResultsScoring.ReadVqaSplit(folder.Path, "val2014"));
        Assert.Contains("v2_mscoco_val2014_annotations.json", annotations.Message);

        var captions = Assert.Throws<FileNotFoundException>(() => ResultsScoring.ReadCaptionReferences(folder.Path, "val2014"));
        Assert.DoesNotContain('\n', captions.Message);
        foreach (var name in new[] { "captions_val2014.json", "karpathy_splits.json", "dataset_coco.json" })
            Assert.Contains(name, captions.Message);
    }

    [Fact]
    public void Images_are_found_in_the_cocos_own_split_folder()
    {
        using var folder = new TempFolder();
        var scene = new Scene([new SceneObject(ShapeKind.Circle, BenchmarkVocabulary.Default.Colours[0], BenchmarkVocabulary.Default.Sizes[0], 1, 1, 0, 0)]);
        var file = Path.Combine(folder.Path, "val2014", "COCO_val2014_000000262148.jpg");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllBytes(file, scene.RenderPng(32));
        var data = new TaskData(folder.Path, TinyBenchmarkModel.Config(100), TextTokenizer.BuildGpt2(["a picture"], 100));
        var loaded = data.LoadImage(new CocoImage(262148, "COCO_val2014_000000262148.jpg", 640, 512), "val2014");
        Assert.Null(loaded.Problem);
        Assert.NotNull(loaded.Pixels);
        Assert.NotNull(data.LoadImage(new CocoImage(1, "missing.jpg", 0, 0), "val2014").Problem);
    }
}
