using System.Globalization;
using System.Net;
using System.Text;
using Platform.Model.Evaluation.Benchmark;
using SkiaSharp;

namespace Platform.Silo.Demo;

/// <summary>What the demo's web site holds: captioned pictures and how much of each kind of noise.</summary>
public sealed record DemoSiteOptions
{
    /// <summary>Seed of the scenes, their alt texts and where the noise goes; a seed gives the same site, byte for byte.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Captioned pictures the site shows (the noise comes on top). Default 480.</summary>
    public int Pictures { get; init; } = 480;

    /// <summary>Pictures per gallery page. Default 12.</summary>
    public int PicturesPerPage { get; init; } = 12;

    /// <summary>Side of the rendered pictures in pixels: large enough for the ingest's image checks (200 px, 5 KB: flat shapes compress well).</summary>
    public int PictureSize { get; init; } = 768;

    /// <summary>The scenes: the benchmark generator's vocabulary and object counts, so a held-out benchmark asks about the same world.</summary>
    public BenchmarkOptions Scenes { get; init; } = DemoScenes.Options(1);

    public void Validate()
    {
        if (Pictures < 20) throw new ArgumentException($"The site needs at least 20 pictures to place every kind of noise, not {Pictures}.");
        if (PicturesPerPage < 4) throw new ArgumentException($"Pictures per page must be at least 4, not {PicturesPerPage}.");
        if (PictureSize is < 200 or > 1024) throw new ArgumentException($"The picture size must be between 200 and 1024 pixels (the ingest keeps 200 px and up), not {PictureSize}.");
    }
}

/// <summary>The scenes the demo draws for its site and for its held-out benchmark: one or two objects, so a tiny model learns them in minutes.</summary>
public static class DemoScenes
{
    public static BenchmarkOptions Options(int seed) => new() { Seed = seed, MinObjects = 1, MaxObjects = 2 };
}

/// <summary>One response of the site: what a request for its path answers.</summary>
public sealed record DemoResource(string Path, string ContentType, byte[] Body, IReadOnlyList<KeyValuePair<string, string>> Headers);

/// <summary>The kinds of noise planted in the site, by the filter each exists for.</summary>
public static class DemoNoise
{
    /// <summary>Navigation icons: tiny images (the image checks' minimum size).</summary>
    public const string NavigationIcon = "navigation_icon";
    /// <summary>Pictures whose alt text is one word (the alt-text word count).</summary>
    public const string OneWordAlt = "one_word_alt";
    /// <summary>A picture shown again on a later page under its own URL (URL dedupe).</summary>
    public const string DuplicateUrl = "duplicate_url";
    /// <summary>A picture's exact bytes under a second URL (byte dedupe).</summary>
    public const string DuplicateBytes = "duplicate_bytes";
    /// <summary>A picture re-encoded at a lower quality under a second URL (perceptual-hash dedupe).</summary>
    public const string NearDuplicate = "near_duplicate";
    /// <summary>Pictures on a page in German (the language filter).</summary>
    public const string OtherLanguage = "other_language";
    /// <summary>Pictures on a page whose robots meta says noai, noimageai (the opt-out filter).</summary>
    public const string OptedOutPage = "opted_out_page";
    /// <summary>A picture served with X-Robots-Tag: noai (the opt-out filter).</summary>
    public const string OptedOutImage = "opted_out_image";
    /// <summary>A picture whose file is cut short (the image decoder).</summary>
    public const string BrokenImage = "broken_image";
    /// <summary>Pictures on a page robots.txt disallows (the capture never fetches them).</summary>
    public const string RobotsDisallowed = "robots_disallowed";
}

/// <summary>A captioned picture as the site shows it.</summary>
/// <param name="Page">The path of the page showing it.</param>
/// <param name="Image">The path of its image.</param>
/// <param name="Noise">Which kind of noise it is (a <see cref="DemoNoise"/> value), or null for a clean pair.</param>
public sealed record DemoPicture(string Page, string Image, string AltText, string? Noise);

/// <summary>
/// A small web site that looks like the web for the demo's crawl: gallery pages whose pictures are rendered shape scenes
/// (as `platform benchmark-data` renders them) with alt texts that describe them in the benchmark captions' words, and
/// the noise the ingest's filters exist for (<see cref="DemoNoise"/>). Everything derives from the seed; no clock, no
/// host name: pages link by path, so the site is the same whatever port serves it.
/// </summary>
public sealed class DemoWebSite
{
    public const string RobotsDisallowedPrefix = "/members/";

    private readonly Dictionary<string, DemoResource> resources;

    private DemoWebSite(Dictionary<string, DemoResource> resources, IReadOnlyList<DemoPicture> pictures)
    {
        this.resources = resources;
        Pictures = pictures;
    }

    /// <summary>Every response by path.</summary>
    public IReadOnlyDictionary<string, DemoResource> Resources => resources;

    /// <summary>Every captioned picture in page order, clean and noise.</summary>
    public IReadOnlyList<DemoPicture> Pictures { get; }

    /// <summary>How many pictures carry each kind of noise.</summary>
    public IReadOnlyDictionary<string, int> NoiseCounts =>
        Pictures.Where(p => p.Noise is not null).GroupBy(p => p.Noise!).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    public static DemoWebSite Generate(DemoSiteOptions options)
    {
        options.Validate();
        var random = new Random(options.Seed);
        var resources = new Dictionary<string, DemoResource>(StringComparer.Ordinal);
        var pictures = new List<DemoPicture>();
        var icons = NavigationIcons(resources);

        // The clean pictures, their alt texts drawn from the benchmark's caption templates.
        var scenes = Enumerable.Range(0, options.Pictures).Select(_ => BenchmarkGenerator.SampleScene(options.Scenes, random)).ToArray();
        var clean = new List<(string Image, string Alt, Scene Scene)>();
        for (var i = 0; i < scenes.Length; i++)
        {
            var image = $"/images/{i:D5}.jpg";
            Add(resources, image, "image/jpeg", Jpeg(scenes[i], options.PictureSize, 98));
            clean.Add((image, AltText(scenes[i], random), scenes[i]));
        }

        // Noise among the gallery's pictures: one of each kind per 40 clean ones, at least one.
        var each = Math.Max(1, options.Pictures / 40);
        var galleryEntries = clean.Select(c => (c.Image, c.Alt, Noise: (string?)null)).ToList();
        for (var n = 0; n < each; n++)
        {
            var source = clean[random.Next(clean.Count)];
            galleryEntries.Add((source.Image, SceneLanguage.Captions(source.Scene, 1, random)[0], DemoNoise.DuplicateUrl));

            source = clean[random.Next(clean.Count)];
            var copy = $"/mirror/{n:D3}.jpg";
            Add(resources, copy, "image/jpeg", resources[source.Image].Body);
            galleryEntries.Add((copy, SceneLanguage.Captions(source.Scene, 1, random)[0], DemoNoise.DuplicateBytes));

            source = clean[random.Next(clean.Count)];
            var small = $"/thumbs/{n:D3}.jpg";
            Add(resources, small, "image/jpeg", Jpeg(source.Scene, options.PictureSize, 60));
            galleryEntries.Add((small, SceneLanguage.Captions(source.Scene, 1, random)[0], DemoNoise.NearDuplicate));

            var scene = BenchmarkGenerator.SampleScene(options.Scenes, random);
            var lone = $"/images/untitled-{n:D3}.jpg";
            Add(resources, lone, "image/jpeg", Jpeg(scene, options.PictureSize, 98));
            galleryEntries.Add((lone, OneWordAlts[random.Next(OneWordAlts.Length)], DemoNoise.OneWordAlt));

            scene = BenchmarkGenerator.SampleScene(options.Scenes, random);
            var optedOut = $"/images/licensed-{n:D3}.jpg";
            Add(resources, optedOut, "image/jpeg", Jpeg(scene, options.PictureSize, 98), [new("X-Robots-Tag", "noai, noimageai")]);
            galleryEntries.Add((optedOut, SceneLanguage.Captions(scene, 1, random)[0], DemoNoise.OptedOutImage));

            scene = BenchmarkGenerator.SampleScene(options.Scenes, random);
            var broken = $"/images/upload-{n:D3}.jpg";
            // An upload cut short: a real JPEG's first two thirds, which still passes the size check but cannot be decoded whole.
            var whole = Jpeg(scene, options.PictureSize, 100);
            Add(resources, broken, "image/jpeg", whole[..(whole.Length * 2 / 3)]);
            galleryEntries.Add((broken, SceneLanguage.Captions(scene, 1, random)[0], DemoNoise.BrokenImage));
        }
        // Clean pictures and noise shuffled apart, the noise spread over the later pages: dedupe keeps the earliest copy,
        // which is then mostly the clean one.
        var order = galleryEntries.Take(clean.Count).OrderBy(_ => random.Next()).Concat(galleryEntries.Skip(clean.Count).OrderBy(_ => random.Next())).ToList();
        var mixed = new List<(string Image, string Alt, string? Noise)>();
        var noise = new Queue<(string Image, string Alt, string? Noise)>(order.Skip(clean.Count));
        var cleanOrdered = order.Take(clean.Count).ToList();
        var half = cleanOrdered.Count / 2;
        mixed.AddRange(cleanOrdered.Take(half));
        var gap = Math.Max(1, (cleanOrdered.Count - half) / Math.Max(1, noise.Count));
        for (var i = half; i < cleanOrdered.Count; i++)
        {
            mixed.Add(cleanOrdered[i]);
            if ((i - half) % gap == gap - 1 && noise.Count > 0) mixed.Add(noise.Dequeue());
        }
        while (noise.Count > 0) mixed.Add(noise.Dequeue());

        var galleryPages = new List<string>();
        var scenesByImage = clean.ToDictionary(c => c.Image, c => c.Scene, StringComparer.Ordinal);
        // Its own generator, so the prose leaves the pictures, their alt texts and the noise as the seed made them before.
        var proseRandom = new Random(options.Seed ^ 0x5D0C);
        for (var start = 0; start < mixed.Count; start += options.PicturesPerPage)
        {
            var path = $"/gallery/page-{galleryPages.Count + 1:D3}.html";
            galleryPages.Add(path);
            var entries = mixed.Skip(start).Take(options.PicturesPerPage).ToArray();
            var prose = GalleryProse(galleryPages.Count, entries.Select(e => e.Noise is null && scenesByImage.TryGetValue(e.Image, out var scene) ? scene : null).ToArray(), proseRandom);
            AddPage(resources, path, "en", $"Shapes gallery, page {galleryPages.Count}", null, icons,
                "Drawings of simple shapes in bright colours, sent in by our readers. Every picture is described below it.", entries.Select(e => (e.Image, e.Alt)), prose);
            pictures.AddRange(entries.Select(e => new DemoPicture(path, e.Image, e.Alt, e.Noise)));
        }

        // Whole pages of noise: another language, an opt-out, and one robots.txt keeps crawlers away from.
        var special = new List<(string Path, string Title)>();
        var pagePictures = Math.Max(2, options.PicturesPerPage / 2);
        special.Add(SpecialPage(resources, pictures, random, options, icons, "/gallery/de/formen.html", "de", "Formen in bunten Farben", null,
            "Zeichnungen einfacher Formen in leuchtenden Farben, von unseren Lesern eingesandt. Jedes Bild ist darunter beschrieben.",
            GermanAltText, pagePictures, DemoNoise.OtherLanguage, "de"));
        special.Add(SpecialPage(resources, pictures, random, options, icons, "/gallery/licensed.html", "en", "Licensed collection", "noai, noimageai",
            "These drawings are licensed to subscribers. They may not be used to train AI models.",
            (scene, r) => SceneLanguage.Captions(scene, 1, r)[0], pagePictures, DemoNoise.OptedOutPage, "licensed"));
        special.Add(SpecialPage(resources, pictures, random, options, icons, RobotsDisallowedPrefix + "collection.html", "en", "Members' collection", null,
            "Drawings our members keep for themselves.",
            (scene, r) => SceneLanguage.Captions(scene, 1, r)[0], pagePictures, DemoNoise.RobotsDisallowed, "members"));

        var index = new StringBuilder();
        index.Append("<ul>");
        foreach (var (page, number) in galleryPages.Select((p, i) => (p, i + 1)))
            index.Append(CultureInfo.InvariantCulture, $"<li><a href=\"{page}\">Gallery page {number}</a></li>");
        foreach (var (page, title) in special)
            index.Append(CultureInfo.InvariantCulture, $"<li><a href=\"{page}\">{WebUtility.HtmlEncode(title)}</a></li>");
        index.Append("</ul>");
        resources["/"] = Html("/", Page("en", "Shapes gallery", null, icons,
            "Welcome to the shapes gallery: drawings of circles, squares, triangles, diamonds and crosses.", index.ToString()));
        Add(resources, "/robots.txt", "text/plain; charset=utf-8", Encoding.UTF8.GetBytes($"User-agent: *\nDisallow: {RobotsDisallowedPrefix}\n"));
        return new DemoWebSite(resources, pictures);
    }

    private static readonly string[] OneWordAlts = ["Shapes", "Drawing", "Artwork", "Colours", "Untitled"];

    private static readonly string[] Ordinals = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
        "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"];

    private static readonly string[] Senders = ["Ada", "Ben", "Chloe", "Dev", "Elif", "Finn", "Greta", "Hugo", "Iris", "Jonas", "Kemal", "Lena", "Mira", "Noor", "Omar", "Pia"];

    /// <summary>
    /// The editors' notes on a gallery page: prose that the text stage keeps (enough sentences, each ending in a full stop,
    /// none repeated across pages), written in the captions' own words, so the run's text-only documents speak of the
    /// same world as its pictures, as SimVLM's text corpus speaks of the world its images show.
    /// </summary>
    private static string GalleryProse(int page, Scene?[] scenes, Random random)
    {
        var sentences = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"This is page {page} of the gallery, with the {scenes.Length} drawings that came in during week {page} of our call for pictures."),
        };
        foreach (var (scene, position) in scenes.Select((s, i) => (s, i)).Where(x => x.s is not null).Take(Ordinals.Length))
        {
            var caption = SceneLanguage.Captions(scene!, 1, random)[0].TrimEnd('.');
            caption = char.ToLowerInvariant(caption[0]) + caption[1..];
            if (caption.StartsWith("an image showing ", StringComparison.Ordinal)) caption = caption["an image showing ".Length..];
            var ordinal = Ordinals[Math.Min(position, Ordinals.Length - 1)];
            var sender = Senders[random.Next(Senders.Length)];
            sentences.Add(caption.StartsWith("there is", StringComparison.Ordinal) || caption.StartsWith("the ", StringComparison.Ordinal) || caption.StartsWith("one of", StringComparison.Ordinal)
                ? $"In the {ordinal} drawing, which {sender} sent, {caption}."
                : $"The {ordinal} drawing, which {sender} sent, shows {caption}.");
        }
        sentences.Add(string.Create(CultureInfo.InvariantCulture, $"Thank you to the {scenes.Count(s => s is not null)} readers whose drawings appear on page {page}."));
        return string.Concat(sentences.Select(s => $"<p>{WebUtility.HtmlEncode(s)}</p>"));
    }

    /// <summary>The benchmark's wording; some alt texts begin "A picture of", as many on the web do, when the caption reads on from it.</summary>
    private static string AltText(Scene scene, Random random)
    {
        var caption = SceneLanguage.Captions(scene, 1, random)[0];
        var lower = char.ToLowerInvariant(caption[0]) + caption[1..];
        var readsOn = (lower.StartsWith("a ", StringComparison.Ordinal) || lower.StartsWith("an ", StringComparison.Ordinal)
                || lower.StartsWith("two ", StringComparison.Ordinal))
            && !lower.StartsWith("an image", StringComparison.Ordinal) && !lower.StartsWith("a drawing", StringComparison.Ordinal);
        return readsOn && random.Next(2) == 0 ? "A picture of " + lower : caption;
    }

    private static readonly Dictionary<string, string> GermanColours = new(StringComparer.Ordinal)
    {
        ["red"] = "roter", ["green"] = "grüner", ["blue"] = "blauer", ["yellow"] = "gelber", ["purple"] = "violetter", ["orange"] = "oranger",
    };

    private static readonly Dictionary<ShapeKind, string> GermanShapes = new()
    {
        [ShapeKind.Circle] = "Kreis", [ShapeKind.Square] = "Quadrat", [ShapeKind.Triangle] = "Dreieck", [ShapeKind.Diamond] = "Rhombus", [ShapeKind.Cross] = "Kreuz",
    };

    private static string GermanAltText(Scene scene, Random random)
    {
        var o = scene.Objects[random.Next(scene.Objects.Count)];
        var colour = GermanColours.GetValueOrDefault(o.Colour.Name, o.Colour.Name);
        // Neuter nouns take the -es ending; "ein ... Kreis" but "ein ... Quadrat" either way reads as German.
        if (o.Shape is ShapeKind.Square or ShapeKind.Triangle or ShapeKind.Cross) colour = colour[..^1] + "s";
        return scene.Objects.Count == 1
            ? $"Ein {colour} {GermanShapes[o.Shape]} auf weißem Hintergrund"
            : $"Zwei Formen auf weißem Grund, darunter ein {colour} {GermanShapes[o.Shape]}";
    }

    private static (string Path, string Title) SpecialPage(Dictionary<string, DemoResource> resources, List<DemoPicture> pictures, Random random,
        DemoSiteOptions options, string icons, string path, string language, string title, string? robots, string intro,
        Func<Scene, Random, string> altText, int count, string noise, string imageFolder)
    {
        var entries = new List<(string Image, string Alt)>();
        for (var i = 0; i < count; i++)
        {
            var scene = BenchmarkGenerator.SampleScene(options.Scenes, random);
            var image = $"/images/{imageFolder}/{i:D3}.jpg";
            Add(resources, image, "image/jpeg", Jpeg(scene, options.PictureSize, 98));
            entries.Add((image, altText(scene, random)));
            pictures.Add(new DemoPicture(path, image, entries[^1].Alt, noise));
        }
        AddPage(resources, path, language, title, robots, icons, intro, entries);
        return (path, title);
    }

    /// <summary>The header every page shares: a logo and icon links, tiny images with one-word or generic alt texts.</summary>
    private static string NavigationIcons(Dictionary<string, DemoResource> resources)
    {
        var header = new StringBuilder("<header>");
        foreach (var (name, alt, colour) in new[] { ("home", "Home", SKColors.SteelBlue), ("search", "Search", SKColors.DimGray), ("rss", "RSS", SKColors.DarkOrange) })
        {
            var path = $"/static/icons/{name}.png";
            Add(resources, path, "image/png", Icon(colour, 16));
            header.Append(CultureInfo.InvariantCulture, $"<a href=\"/\"><img src=\"{path}\" alt=\"{alt}\" width=\"16\" height=\"16\"></a>");
        }
        // A logo with a describing alt text: the text passes, the 32-pixel image does not.
        Add(resources, "/static/logo.png", "image/png", Icon(SKColors.MediumPurple, 32));
        header.Append("<img src=\"/static/logo.png\" alt=\"Purple logo of the shapes gallery\" width=\"32\" height=\"32\">");
        header.Append("</header>");
        return header.ToString();
    }

    private static void AddPage(Dictionary<string, DemoResource> resources, string path, string language, string title, string? robots, string icons,
        string intro, IEnumerable<(string Image, string Alt)> entries, string? prose = null)
    {
        var body = new StringBuilder();
        foreach (var (image, alt) in entries)
            body.Append(CultureInfo.InvariantCulture, $"<figure><img src=\"{image}\" alt=\"{WebUtility.HtmlEncode(alt)}\"></figure>");
        if (prose is not null) body.Append(CultureInfo.InvariantCulture, $"<section class=\"notes\"><h2>From the editors</h2>{prose}</section>");
        resources[path] = Html(path, Page(language, title, robots, icons, intro, body.ToString()));
    }

    private static string Page(string language, string title, string? robots, string icons, string intro, string body) =>
        $"<!DOCTYPE html><html lang=\"{language}\"><head><meta charset=\"utf-8\"><title>{WebUtility.HtmlEncode(title)}</title>"
        + (robots is null ? "" : $"<meta name=\"robots\" content=\"{robots}\">")
        + $"</head><body>{icons}<h1>{WebUtility.HtmlEncode(title)}</h1><p>{WebUtility.HtmlEncode(intro)}</p><main>{body}</main>"
        + "<footer><p><a href=\"/\">Back to the gallery</a></p></footer></body></html>";

    private static DemoResource Html(string path, string html) => new(path, "text/html; charset=utf-8", Encoding.UTF8.GetBytes(html), []);

    private static void Add(Dictionary<string, DemoResource> resources, string path, string contentType, byte[] body,
        IReadOnlyList<KeyValuePair<string, string>>? headers = null) =>
        resources.Add(path, new DemoResource(path, contentType, body, headers ?? []));

    /// <summary>The scene as the benchmark renders it, encoded as a JPEG as photos on the web are.</summary>
    private static byte[] Jpeg(Scene scene, int size, int quality)
    {
        using var bitmap = SKBitmap.Decode(scene.RenderPng(size));
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, quality);
        return data.ToArray();
    }

    private static byte[] Icon(SKColor colour, int size)
    {
        using var bitmap = new SKBitmap(size, size);
        bitmap.Erase(colour);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
