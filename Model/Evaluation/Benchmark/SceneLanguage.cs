namespace Platform.Model.Evaluation.Benchmark;

/// <summary>A generated VQA question with its correct answer and the answer's kind.</summary>
public sealed record GeneratedQuestion(string Question, string QuestionType, string AnswerType, string Answer, Func<Random, string> WrongAnswer);

/// <summary>Captions and questions that describe a scene truthfully, in varied wording.</summary>
public static class SceneLanguage
{
    static readonly string[] CountWords = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

    public static string Plural(string noun) =>
        noun.EndsWith('s') || noun.EndsWith('x') || noun.EndsWith("ch", StringComparison.Ordinal) || noun.EndsWith("sh", StringComparison.Ordinal)
            ? noun + "es" : noun + "s";

    static string Article(string nextWord) => "aeiou".Contains(nextWord[0]) ? "an" : "a";

    static string Phrase(SceneObject o, bool withSize)
    {
        var words = withSize ? $"{o.Size.Name} {o.Colour.Name} {o.ShapeWord}" : $"{o.Colour.Name} {o.ShapeWord}";
        return $"{Article(words)} {words}";
    }

    static string Capitalise(string text) => char.ToUpperInvariant(text[0]) + text[1..];

    static string JoinList(IReadOnlyList<string> items) => items.Count switch
    {
        1 => items[0],
        2 => $"{items[0]} and {items[1]}",
        _ => string.Join(", ", items.Take(items.Count - 1)) + " and " + items[^1],
    };

    /// <summary>Distinct caption templates, drawn without replacement so an image's captions differ.</summary>
    static readonly Func<Scene, Random, string>[] CaptionTemplates =
    [
        (s, r) => { var o = Pick(s, r); return $"{Phrase(o, true)} in the {o.PlaceWords} of the picture"; },
        (s, r) => { var o = Pick(s, r); return $"there is {Phrase(o, false)} in the {o.PlaceWords}"; },
        (s, r) => JoinList(s.Objects.Select(o => Phrase(o, r.Next(2) == 0)).ToArray()) + " on a white background",
        (s, r) => s.Objects.Count == 1 ? $"a single {s.Objects[0].ShapeWord} on a white background" : $"{CountWords[s.Objects.Count]} shapes on a white background",
        (s, r) =>
        {
            var o = Pick(s, r);
            return o.Column == 1 ? $"an image showing {Phrase(o, true)} in the middle column" : $"an image showing {Phrase(o, true)} on the {o.HorizontalWord} side";
        },
        (s, r) => s.Objects.Count == 1
            ? $"{Phrase(s.Objects[0], false)} alone near the {s.Objects[0].VerticalWord}"
            : $"{Phrase(s.Objects[0], false)} together with {Phrase(s.Objects[1], false)}",
        (s, r) =>
        {
            var o = Pick(s, r);
            // "the <shape>" only names one object when no other object has that shape.
            return s.Objects.Count(p => p.Shape == o.Shape) == 1
                ? $"the {o.ShapeWord} is {o.Colour.Name} and {o.Size.Name}"
                : $"one of the {Plural(o.ShapeWord)} is {o.Colour.Name} and {o.Size.Name}";
        },
        (s, r) => $"a drawing of {JoinList(s.Objects.GroupBy(o => o.ShapeWord).Select(g => g.Count() == 1 ? $"{Article(g.Key)} {g.Key}" : $"{CountWords[g.Count()]} {Plural(g.Key)}").ToArray())}",
    ];

    static SceneObject Pick(Scene scene, Random random) => scene.Objects[random.Next(scene.Objects.Count)];

    /// <summary>Captions with the surface variety of human ones: capitalised or not, with or without a final period.</summary>
    public static IReadOnlyList<string> Captions(Scene scene, int count, Random random)
    {
        var order = Enumerable.Range(0, CaptionTemplates.Length).OrderBy(_ => random.Next()).ToArray();
        var captions = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var text = CaptionTemplates[order[i % order.Length]](scene, random);
            if (random.Next(4) != 0) text = Capitalise(text);
            if (random.Next(3) != 0) text += ".";
            captions.Add(text);
        }
        return captions;
    }

    /// <summary>
    /// Colour, shape, count and position questions that this scene answers unambiguously, in random
    /// order; the three count questions are always askable, so every scene yields at least three.
    /// </summary>
    public static IReadOnlyList<GeneratedQuestion> Questions(Scene scene, BenchmarkVocabulary vocabulary, Random random)
    {
        var candidates = new List<GeneratedQuestion>();
        var objects = scene.Objects;

        foreach (var o in objects.Where(o => objects.Count(p => p.Shape == o.Shape) == 1))
            candidates.Add(new($"What color is the {o.ShapeWord}?", "what color is the", "other", o.Colour.Name,
                r => r.Next(3) == 0 ? Capitalise(o.Colour.Name) : Other(vocabulary.Colours.Select(c => c.Name), o.Colour.Name, r)));

        foreach (var o in objects.Where(o => objects.Count(p => p.Colour == o.Colour) == 1))
            candidates.Add(new($"What shape is the {o.Colour.Name} object?", "what shape is the", "other", o.ShapeWord,
                r => r.Next(3) == 0 ? $"a {o.ShapeWord}" : Other(vocabulary.Shapes.Select(s => s.ToString().ToLowerInvariant()), o.ShapeWord, r)));

        var countedShape = vocabulary.Shapes[random.Next(vocabulary.Shapes.Count)];
        var countedWord = countedShape.ToString().ToLowerInvariant();
        var count = objects.Count(o => o.Shape == countedShape);
        candidates.Add(new($"How many {Plural(countedWord)} are there?", "how many", "number", count.ToString(System.Globalization.CultureInfo.InvariantCulture),
            r => r.Next(2) == 0 ? CountWords[count] : Math.Max(0, count + (r.Next(2) == 0 ? -1 : 1)).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var countedColour = vocabulary.Colours[random.Next(vocabulary.Colours.Count)];
        var colourCount = objects.Count(o => o.Colour == countedColour);
        candidates.Add(new($"How many {countedColour.Name} objects are there?", "how many", "number", colourCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
            r => r.Next(2) == 0 ? CountWords[colourCount] : (colourCount + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        candidates.Add(new("How many objects are in the image?", "how many", "number", objects.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
            r => (objects.Count + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)));

        foreach (var o in objects.Where(o => objects.Count(p => p.Shape == o.Shape && p.Colour == o.Colour) == 1))
        {
            // Half the position questions are true, so "yes" and "no" are equally likely answers.
            var sides = new (string Word, bool Holds)[] { ("left", o.Column == 0), ("right", o.Column == 2), ("top", o.Row == 0), ("bottom", o.Row == 2) };
            var wanted = random.Next(2) == 0;
            var pool = sides.Where(s => s.Holds == wanted).ToArray();
            var (side, truth) = pool.Length > 0 ? pool[random.Next(pool.Length)] : sides[random.Next(sides.Length)];
            var answer = truth ? "yes" : "no";
            candidates.Add(new($"Is the {o.Colour.Name} {o.ShapeWord} on the {side}?", "is the", "yes/no", answer, _ => truth ? "no" : "yes"));
            candidates.Add(new($"Where is the {o.Colour.Name} {o.ShapeWord}?", "where is the", "other", o.PlaceWords,
                r => r.Next(2) == 0 ? $"in the {o.PlaceWords}" : o.HorizontalWord));
        }

        var chosen = new List<GeneratedQuestion>();
        foreach (var question in candidates.OrderBy(_ => random.Next()))
        {
            if (chosen.Any(c => c.Question == question.Question)) continue;
            chosen.Add(question);
        }
        return chosen;
    }

    static string Other(IEnumerable<string> words, string except, Random random)
    {
        var others = words.Where(w => w != except).ToArray();
        return others[random.Next(others.Length)];
    }
}
