using Platform.Model.Evaluation.Vqa;

namespace Platform.Evaluation.Tests;

public class VqaAccuracyTests
{
    static string[] Answers(params (string Answer, int Times)[] groups) =>
        groups.SelectMany(g => Enumerable.Repeat(g.Answer, g.Times)).ToArray();

    [Theory]
    // 10 x "yes", predict "yes": each leave-one-out subset has 9 matches -> min(1, 9/3) = 1 -> 1.
    [InlineData("yes", 10, 1.0)]
    // 3 x "yes" + 7 x "no", predict "yes": dropping a "yes" leaves 2 -> 2/3 (3 times);
    // dropping a "no" leaves 3 -> 1 (7 times): (3*2/3 + 7*1)/10 = 9/10.
    [InlineData("yes", 3, 0.9)]
    // 2 x "yes": dropping a "yes" leaves 1 -> 1/3 (2 times); dropping another leaves 2 -> 2/3 (8 times):
    // (2/3 + 16/3)/10 = 6/10.
    [InlineData("yes", 2, 0.6)]
    // 1 x "yes": dropping it leaves 0; dropping another leaves 1 -> 1/3 (9 times): 3/10.
    [InlineData("yes", 1, 0.3)]
    // 4 x "yes": dropping a "yes" leaves 3 -> 1; others also >= 3 -> 1.
    [InlineData("yes", 4, 1.0)]
    // Prediction matches nobody -> 0.
    [InlineData("maybe", 5, 0.0)]
    public void Leave_one_out_accuracy_table(string prediction, int yesCount, double expected)
    {
        var answers = Answers(("yes", yesCount), ("no", 10 - yesCount));
        Assert.Equal(expected, VqaAccuracy.QuestionAccuracy(prediction, answers), 1e-12);
    }

    [Fact]
    public void Identical_answers_are_not_normalised_so_case_differences_fail()
    {
        // All ten "two": no normalisation, "Two" != "two" -> 0; "two" -> 1.
        var answers = Answers(("two", 10));
        Assert.Equal(0.0, VqaAccuracy.QuestionAccuracy("Two", answers));
        Assert.Equal(1.0, VqaAccuracy.QuestionAccuracy("two", answers));
    }

    [Fact]
    public void Disagreeing_answers_normalise_prediction_and_answers_alike()
    {
        // 5 x "two" + 5 x "2" disagree -> normalised: all become "2"; "Two." -> period stripped -> "two" -> "2".
        // Every leave-one-out subset has 9 matches -> 1.
        var answers = Answers(("two", 5), ("2", 5));
        Assert.Equal(1.0, VqaAccuracy.QuestionAccuracy("Two.", answers));
    }

    [Fact]
    public void Newlines_tabs_and_outer_spaces_are_cleaned_even_without_normalisation()
    {
        Assert.Equal(1.0, VqaAccuracy.QuestionAccuracy("\tred\n ", Answers(("red", 10))));
    }

    [Theory]
    [InlineData("yes, it is", "yes it is")]            // ", " occurs -> comma deleted everywhere
    [InlineData("black,white", "black white")]         // no space next to it, no digit,digit -> replaced by space
    [InlineData("1,000", "1000")]                      // digit-comma-digit -> deleted
    [InlineData("hot-dog", "hot dog")]                 // hyphen with no space beside it -> space
    [InlineData("hot - dog", "hot dog")]               // hyphen next to a space -> deleted, spaces collapse on split
    [InlineData("3.5", "3.5")]                         // period before a digit stays
    [InlineData("u.s.a.", "usa")]                      // periods not before a digit are deleted
    [InlineData("The Two Dogs", "2 dogs")]             // lower-case, number word -> digit, article dropped
    [InlineData("none", "0")]
    [InlineData("an apple", "apple")]
    [InlineData("dont", "don't")]                      // contractions table
    [InlineData("its", "its")]                         // not in the table
    [InlineData("whats up", "what's up")]
    [InlineData("Im", "im")]                           // table key "Im" never matches after lower-casing (reference quirk)
    public void Normalization_cases(string input, string expected)
    {
        Assert.Equal(expected, VqaAnswerNormalizer.Normalize(input));
    }

    [Fact]
    public void At_most_32_periods_are_stripped_as_in_the_reference()
    {
        // 40 periods, none before a digit: the reference's count argument is re.UNICODE = 32, so 8 remain.
        var input = string.Concat(Enumerable.Repeat("x.", 40));
        var output = VqaAnswerNormalizer.ProcessPunctuation(input);
        Assert.Equal(8, output.Count(c => c == '.'));
        Assert.Equal(40, output.Count(c => c == 'x'));
    }

    [Fact]
    public void Punctuation_rule_inspects_the_original_text_for_each_character()
    {
        // "a?b !": "?" has no space beside it -> replaced by a space; "!" has " !" -> deleted. -> "a b ".
        Assert.Equal("a b ", VqaAnswerNormalizer.ProcessPunctuation("a?b !"));
        // Any digit-comma-digit makes every listed character deleted rather than spaced: "a-b 1,2" -> "ab 12".
        Assert.Equal("ab 12", VqaAnswerNormalizer.ProcessPunctuation("a-b 1,2"));
    }

    [Fact]
    public void Contractions_table_is_the_embedded_official_one()
    {
        Assert.Equal(Contractions.Count, VqaAnswerNormalizer.Contractions.Count);
        Assert.Equal("y'all'd've", VqaAnswerNormalizer.Contractions["yall'd've"]);
        Assert.Equal("somebodyd", VqaAnswerNormalizer.Contractions["somebody'd"]); // the reference's own inversion
    }

    static readonly IReadOnlyDictionary<string, string> Contractions =
        System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(
            Path.Combine(AppContext.BaseDirectory, "vqa_contractions.json")))!;

    [Fact]
    public void Overall_score_is_the_mean_times_100_with_an_answer_type_breakdown()
    {
        // q1 1.0 (yes/no), q2 0.3 (yes/no), q3 0.0 (other): overall (1 + 0.3 + 0)/3 * 100 = 43.333...
        // yes/no = 65, other = 0.
        var scores = VqaAccuracy.Score(
        [
            new VqaExample(1, "yes", Answers(("yes", 10)), "yes/no"),
            new VqaExample(2, "yes", Answers(("yes", 1), ("no", 9)), "yes/no"),
            new VqaExample(3, "red", Answers(("blue", 10)), "other"),
        ]);
        Assert.Equal(130.0 / 3.0, scores.Overall, 1e-9);
        Assert.Equal(65.0, scores.PerAnswerType["yes/no"], 1e-9);
        Assert.Equal(0.0, scores.PerAnswerType["other"], 1e-9);
        Assert.Equal(3, scores.Questions);
    }
}
