using CsCheck;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Evaluation.Captioning;
using Platform.Model.Evaluation.Vqa;

namespace Platform.Evaluation.Tests;

public class PropertyTests
{
    static readonly Gen<string> Word = OneOf("a", "the", "red", "cube", "ball", "on", "left", "dog's", "don't", "(big)", "x,y", "two.", "\"hi\"", "--", "U.S.");

    static Gen<string> OneOf(params string[] values) => Gen.Int[0, values.Length - 1].Select(i => values[i]);
    static readonly Gen<string> Caption = Word.Array[0, 12].Select(words => string.Join(' ', words));

    [Fact]
    public void Tokens_never_hold_white_space_or_removed_punctuation()
    {
        Gen.String.Sample(text =>
        {
            foreach (var token in CaptionTokenizer.Tokenize(text))
            {
                Assert.False(string.IsNullOrEmpty(token));
                Assert.DoesNotContain(token, t => char.IsWhiteSpace(t));
                Assert.False(CaptionTokenizer.RemovedPunctuation.Contains(token), token);
            }
        }, iter: 500);
    }

    [Fact]
    public void Caption_scores_stay_in_range_and_a_sole_reference_copy_has_rouge_one()
    {
        Gen.Select(Caption, Caption.Array[1, 5]).Array[2, 6].Sample(images =>
        {
            var examples = images.Select((image, i) => TokenizedCaptionExample.From(new CaptionExample(i.ToString(), image.Item1, image.Item2))).ToArray();
            var bleu = Bleu.Compute(examples);
            Assert.All(bleu.Scores, s => Assert.InRange(s, 0.0, 1.0));
            Assert.InRange(RougeL.Compute(examples), 0.0, 1.0);
            Assert.True(CiderD.Compute(examples).Score >= 0);

            var copies = images.Select((image, i) => TokenizedCaptionExample.From(new CaptionExample(i.ToString(), image.Item1, [image.Item1]))).ToArray();
            if (copies.All(c => c.Hypothesis.Count > 0))
                Assert.Equal(1.0, RougeL.Compute(copies), 1e-12);
        }, iter: 200);
    }

    [Fact]
    public void Vqa_accuracy_is_one_when_four_annotators_agree_and_always_within_zero_one()
    {
        var answer = OneOf("yes", "no", "2", "two", "Red", "red", "a dog", "dog");
        Gen.Select(answer, answer.Array[10]).Sample(sample =>
        {
            var (prediction, answers) = sample;
            var accuracy = VqaAccuracy.QuestionAccuracy(prediction, answers);
            Assert.InRange(accuracy, 0.0, 1.0);
            if (answers.Count(a => a == prediction) >= 4)
                Assert.Equal(1.0, accuracy);
        }, iter: 500);
    }

    [Fact]
    public void Every_scene_yields_at_least_three_distinct_questions()
    {
        Gen.Int.Sample(seed =>
        {
            var random = new Random(seed);
            var scene = BenchmarkGenerator.SampleScene(new BenchmarkOptions(), random);
            var questions = SceneLanguage.Questions(scene, BenchmarkVocabulary.Default, random);
            Assert.True(questions.Count >= 3);
            Assert.Equal(questions.Count, questions.Select(q => q.Question).Distinct().Count());
        }, iter: 300);
    }
}
