using Platform.Model.Evaluation.Datasets;

namespace Platform.Evaluation.Tests;

public class DatasetReaderTests
{
    const string CocoCaptions = """
        {"info": {"description": "COCO 2014 Dataset", "year": 2014},
         "licenses": [{"id": 1, "name": "x", "url": "y"}],
         "images": [
           {"license": 1, "file_name": "COCO_val2014_000000391895.jpg", "coco_url": "u", "height": 360, "width": 640, "id": 391895},
           {"license": 1, "file_name": "COCO_val2014_000000522418.jpg", "coco_url": "u", "height": 480, "width": 640, "id": 522418}],
         "annotations": [
           {"image_id": 391895, "id": 1, "caption": "A man with a red helmet on a small moped."},
           {"image_id": 391895, "id": 2, "caption": "Man riding a motor bike on a dirt road."},
           {"image_id": 522418, "id": 3, "caption": "A woman wearing a net on her head cutting a cake."},
           {"image_id": 999, "id": 4, "caption": "Caption of an image that is not listed."},
           {"image_id": 522418, "id": 5}]}
        """;

    [Fact]
    public void Coco_captions_file_groups_captions_by_image_and_reports_bad_records()
    {
        using var folder = new TempFolder();
        var path = folder.Write("captions_val2014.json", CocoCaptions);
        var dataset = DatasetReaders.ReadCocoCaptions(path);

        Assert.Equal([391895L, 522418L], dataset.Images.Select(i => i.Id));
        Assert.Equal(640, dataset.Images[0].Width);
        Assert.Equal("COCO_val2014_000000391895.jpg", dataset.Images[0].FileName);
        Assert.Equal(2, dataset.Captions[391895].Count);
        Assert.Equal(["A woman wearing a net on her head cutting a cake."], dataset.Captions[522418]);
        Assert.Equal(2, dataset.Skipped.Count);
        Assert.Contains(dataset.Skipped, s => s.Index == 3 && s.Reason.Contains("unknown image 999"));
        Assert.Contains(dataset.Skipped, s => s.Index == 4 && s.Reason.Contains("empty caption"));
    }

    [Fact]
    public void Malformed_file_fails_with_its_path_in_the_message()
    {
        using var folder = new TempFolder();
        var path = folder.Write("broken.json", "{\"images\": [");
        var error = Assert.Throws<DatasetFormatException>(() => DatasetReaders.ReadCocoCaptions(path));
        Assert.Contains(path, error.Message);
        var wrongShape = folder.Write("shape.json", "{\"questions\": []}");
        Assert.Contains("\"images\" and \"annotations\"", Assert.Throws<DatasetFormatException>(() => DatasetReaders.ReadCocoCaptions(wrongShape)).Message);
    }

    [Fact]
    public void Karpathy_split_file_selects_one_split_using_cocoid_or_imgid()
    {
        using var folder = new TempFolder();
        var path = folder.Write("dataset_coco.json", """
            {"images": [
              {"filepath": "val2014", "sentids": [0, 1], "filename": "COCO_val2014_000000391895.jpg", "imgid": 0, "split": "test",
               "sentences": [{"tokens": ["a", "man"], "raw": "A man.", "imgid": 0, "sentid": 0},
                             {"tokens": ["a", "bike"], "raw": "A bike.", "imgid": 0, "sentid": 1}], "cocoid": 391895},
              {"filepath": "val2014", "sentids": [2], "filename": "b.jpg", "imgid": 1, "split": "restval",
               "sentences": [{"tokens": ["x"], "raw": "X.", "imgid": 1, "sentid": 2}], "cocoid": 7},
              {"sentids": [3], "filename": "1000092795.jpg", "imgid": 2, "split": "test",
               "sentences": [{"tokens": ["two", "men"], "raw": "Two men.", "imgid": 2, "sentid": 3}]}],
             "dataset": "coco"}
            """);
        var test = DatasetReaders.ReadKarpathySplit(path, "test");
        Assert.Equal([391895L, 2L], test.Images.Select(i => i.Id));
        Assert.Equal("val2014/COCO_val2014_000000391895.jpg", test.Images[0].FileName);
        Assert.Equal("1000092795.jpg", test.Images[1].FileName);
        Assert.Equal(["A man.", "A bike."], test.Captions[391895]);
        Assert.Single(DatasetReaders.ReadKarpathySplit(path, "restval").Images);
    }

    [Fact]
    public void Vqa_questions_and_annotations_join_on_question_id()
    {
        using var folder = new TempFolder();
        var questions = folder.Write("q.json", """
            {"info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "val2014", "license": {},
             "questions": [{"image_id": 262148, "question": "Where is he looking?", "question_id": 262148000},
                           {"image_id": 262148, "question": "What are the people in the background doing?", "question_id": 262148001}]}
            """);
        var tenAnswers = string.Join(",", Enumerable.Range(1, 10).Select(i => $"{{\"answer\": \"{(i <= 7 ? "down" : "skateboard")}\", \"answer_confidence\": \"yes\", \"answer_id\": {i}}}"));
        var annotations = folder.Write("a.json", $$"""
            {"annotations": [
              {"question_type": "none of the above", "multiple_choice_answer": "down", "answers": [{{tenAnswers}}],
               "image_id": 262148, "answer_type": "other", "question_id": 262148000},
              {"question_type": "what are the", "multiple_choice_answer": "watching", "answers": [{"answer": "watching", "answer_confidence": "yes", "answer_id": 1}],
               "image_id": 262148, "answer_type": "other", "question_id": 262148001},
              {"question_type": "what", "multiple_choice_answer": "x", "answers": [{{tenAnswers}}], "image_id": 1, "answer_type": "other", "question_id": 5}]}
            """);
        var dataset = DatasetReaders.ReadVqa(questions, annotations);
        Assert.Equal(2, dataset.Questions.Count);
        Assert.Equal("Where is he looking?", dataset.Questions[262148000].Question);
        var annotation = Assert.Single(dataset.Annotations).Value;
        Assert.Equal(10, annotation.Answers.Count);
        Assert.Equal(7, annotation.Answers.Count(a => a == "down"));
        Assert.Equal("other", annotation.AnswerType);
        Assert.Contains(dataset.Skipped, s => s.Reason.Contains("at least two answers"));
        Assert.Contains(dataset.Skipped, s => s.Reason.Contains("unknown question 5"));
    }

    [Fact]
    public void Retrieval_set_lists_every_caption_with_its_image_index()
    {
        var dataset = new CaptionDataset(
            [new CocoImage(10, "a.png", 1, 1), new CocoImage(20, "b.png", 1, 1), new CocoImage(30, "c.png", 1, 1)],
            new Dictionary<long, IReadOnlyList<string>> { [10] = ["a1", "a2", "a3"], [20] = [], [30] = ["c1"] },
            []);
        var set = RetrievalSet.FromCaptions(dataset, captionsPerImage: 2);
        Assert.Equal([10L, 30L], set.Images.Select(i => i.Id));
        Assert.Equal(["a1", "a2", "c1"], set.Texts);
        Assert.Equal([0, 0, 1], set.TextImage);
    }
}
