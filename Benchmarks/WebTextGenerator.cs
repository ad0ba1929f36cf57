using System.Text;
using Platform.Model;

namespace Platform.Benchmarks;

/// <summary>
/// Alt-text and captions as web pages carry them, generated from a seed: mostly English with brand names, numbers,
/// sizes, file names and URLs, some French, German, Spanish, Russian, Japanese and Chinese, hashtags and emoji. Word
/// frequencies fall off as on the web (a few words often, many rarely), so a vocabulary trained on one sample meets
/// unseen words in another.
/// </summary>
public static class WebTextGenerator
{
    private static readonly string[] Common =
    [
        "a", "the", "of", "and", "with", "in", "on", "for", "at", "to", "from", "by", "photo", "image", "picture", "view",
        "man", "woman", "people", "child", "dog", "cat", "car", "house", "street", "city", "beach", "mountain", "tree",
        "red", "blue", "green", "white", "black", "old", "new", "small", "large", "beautiful", "modern", "vintage",
        "sitting", "standing", "walking", "holding", "looking", "wearing", "shoes", "dress", "shirt", "table", "kitchen",
        "sunset", "night", "winter", "summer", "garden", "flowers", "coffee", "food", "plate", "logo", "icon", "design",
    ];

    private static readonly string[] Rare =
    [
        "Nike", "Adidas", "iPhone", "Samsung", "Galaxy", "MacBook", "PlayStation", "IKEA", "Lego", "Tesla", "Model", "Pro",
        "stainless", "ergonomic", "waterproof", "handcrafted", "minimalist", "Scandinavian", "Victorian", "panoramic",
        "Café", "naïve", "résumé", "Zürich", "São", "Paulo", "Kraków", "Müller", "Straße", "façade", "jalapeño", "Ñandú",
        "Москва", "зимой", "кошка", "東京", "タワー", "の", "夜景", "北京", "咖啡", "猫", "사진", "서울", "Ελλάδα",
        "#sunset", "#travel", "#ootd", "@home", "😀", "👍🏽", "🌅", "❤️", "🇫🇷", "👨‍👩‍👧", "™", "©", "½", "€", "°C", "—", "“quoted”",
    ];

    private static readonly string[] Sites = ["example.com", "cdn.shop.io", "img.news.co.uk", "wiki.org", "blog.example.net"];

    /// <summary><paramref name="count"/> texts, the same for the same seed.</summary>
    public static IEnumerable<string> Texts(ulong seed, int count)
    {
        var random = new DeterministicRandom(seed);
        var text = new StringBuilder();
        for (int i = 0; i < count; i++)
        {
            text.Clear();
            int words = 3 + random.Next(0, 14);
            for (int w = 0; w < words; w++)
            {
                if (w > 0) text.Append(random.Next(0, 12) == 0 ? ", " : " ");
                text.Append(Word(random));
            }
            switch (random.Next(0, 8))
            {
                case 0: text.Append($" https://{Sites[random.Next(0, Sites.Length)]}/img/IMG_{random.Next(1000, 9999)}.jpg"); break;
                case 1: text.Append($" (size {random.Next(1, 15)}.{random.Next(0, 10)}, {random.Next(100, 2000)} x {random.Next(100, 2000)} px)"); break;
                case 2: text.Append(" – stock photo"); break;
            }
            yield return text.ToString();
        }
    }

    private static string Word(DeterministicRandom random)
    {
        // Zipf-like: the first words of each list far more often than the last.
        double draw = random.NextDouble();
        if (draw < 0.8) return Common[(int)(Common.Length * random.NextDouble() * random.NextDouble())];
        if (draw < 0.97) return Rare[(int)(Rare.Length * random.NextDouble() * random.NextDouble())];
        // A word seen nowhere else: an invented name or a number.
        return random.Next(0, 2) == 0 ? $"{random.Next(1, 99999)}" : Invented(random);
    }

    private static string Invented(DeterministicRandom random)
    {
        const string letters = "abcdefghijklmnopqrstuvwxyzäöüéñ";
        var word = new StringBuilder();
        int length = 3 + random.Next(0, 8);
        for (int i = 0; i < length; i++) word.Append(letters[random.Next(0, letters.Length)]);
        if (random.Next(0, 3) == 0) word[0] = char.ToUpperInvariant(word[0]);
        return word.ToString();
    }
}
