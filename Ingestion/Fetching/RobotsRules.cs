using System.Text.RegularExpressions;

namespace Platform.Ingestion.Fetching;

/// <summary>
/// The robots.txt rules (RFC 9309) that apply to one product token: the groups naming it, else the
/// <c>*</c> groups. The longest matching pattern wins; Allow wins a tie. Patterns support <c>*</c> and <c>$</c>.
/// </summary>
public sealed class RobotsRules
{
    private readonly List<(Regex Pattern, int Length, bool Allow)> _rules;

    private RobotsRules(List<(Regex, int, bool)> rules, bool disallowAll, TimeSpan? crawlDelay = null)
    {
        _rules = rules;
        DisallowAll = disallowAll;
        CrawlDelay = crawlDelay;
    }

    public bool DisallowAll { get; }

    /// <summary>The non-standard but widely used <c>Crawl-delay</c> (seconds between requests) of the groups that apply; null when absent.</summary>
    public TimeSpan? CrawlDelay { get; }

    public static RobotsRules AllowEverything { get; } = new([], false);

    /// <summary>What RFC 9309 prescribes when robots.txt cannot be fetched (server or network error).</summary>
    public static RobotsRules Unreachable { get; } = new([], true);

    public bool IsAllowed(string pathAndQuery)
    {
        if (DisallowAll) return false;
        var best = (Length: -1, Allow: true);
        foreach (var (pattern, length, allow) in _rules)
        {
            if (!pattern.IsMatch(pathAndQuery)) continue;
            if (length > best.Length || (length == best.Length && allow)) best = (length, allow);
        }
        return best.Allow;
    }

    public static RobotsRules Parse(string text, string productToken)
    {
        var groups = new List<(List<string> Agents, List<(string Field, string Value)> Rules)>();
        (List<string> Agents, List<(string, string)> Rules)? current = null;
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Split('#')[0].Trim();
            var colon = line.IndexOf(':');
            if (colon <= 0) continue;
            var field = line[..colon].Trim().ToLowerInvariant();
            var value = line[(colon + 1)..].Trim();
            if (field == "user-agent")
            {
                if (current is null || current.Value.Rules.Count > 0)
                {
                    current = ([], []);
                    groups.Add(current.Value);
                }
                current.Value.Agents.Add(value);
            }
            else if (field is "allow" or "disallow" or "crawl-delay" && current is not null)
                current.Value.Rules.Add((field, value));
        }

        var mine = groups.Where(g => g.Agents.Any(a => a.Equals(productToken, StringComparison.OrdinalIgnoreCase))).ToList();
        if (mine.Count == 0) mine = [.. groups.Where(g => g.Agents.Contains("*"))];
        TimeSpan? crawlDelay = null;
        foreach (var (_, value) in mine.SelectMany(g => g.Rules).Where(r => r.Field == "crawl-delay"))
            if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
                && seconds >= 0 && seconds <= 86400)
            {
                crawlDelay = TimeSpan.FromSeconds(seconds);
                break;
            }
        var rules = mine.SelectMany(g => g.Rules)
            .Where(r => r.Field != "crawl-delay")
            .Where(r => r.Value.Length > 0) // an empty Disallow allows everything
            .Select(r => (ToRegex(r.Value), r.Value.Length, r.Field == "allow"))
            .ToList();
        return new RobotsRules(rules, false, crawlDelay);
    }

    private static Regex ToRegex(string pattern)
    {
        var anchored = pattern.EndsWith('$');
        var body = Regex.Escape(anchored ? pattern[..^1] : pattern).Replace(@"\*", ".*");
        return new Regex("^" + body + (anchored ? "$" : ""), RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(50));
    }
}
