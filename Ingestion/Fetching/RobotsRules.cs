namespace Platform.Ingestion.Fetching;

/// <summary>
/// The robots.txt rules (RFC 9309) that apply to one product token: the groups naming it, else the
/// <c>*</c> groups. The longest matching pattern wins; Allow wins a tie. Patterns support <c>*</c> and <c>$</c>,
/// matched without regular expressions: a site's file must not be able to make matching slow (backtracking)
/// or throw (a regex timeout), whatever its patterns.
/// </summary>
public sealed class RobotsRules
{
    private readonly List<(RobotsPattern Pattern, int Length, bool Allow)> _rules;

    private RobotsRules(List<(RobotsPattern, int, bool)> rules, bool disallowAll, TimeSpan? crawlDelay = null)
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
        // A byte-order mark would otherwise glue itself to the first field name and lose that line.
        text = text.TrimStart('\uFEFF');
        foreach (var rawLine in text.Split(['\r', '\n']))
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
            .Select(r => (new RobotsPattern(r.Value), r.Value.Length, r.Field == "allow"))
            .ToList();
        return new RobotsRules(rules, false, crawlDelay);
    }
}

/// <summary>
/// A robots.txt path pattern: a prefix match where <c>*</c> stands for any run of characters and a final
/// <c>$</c> anchors the end. Matched by greedy wildcard matching with one backtrack point, which takes at
/// most (pattern length × path length) steps, never exponential time.
/// </summary>
public sealed class RobotsPattern
{
    private readonly string _pattern;
    private readonly bool _anchored;

    public RobotsPattern(string pattern)
    {
        _anchored = pattern.EndsWith('$');
        _pattern = _anchored ? pattern[..^1] : pattern;
    }

    public bool IsMatch(string path)
    {
        int p = 0, s = 0, star = -1, resume = 0;
        while (true)
        {
            if (p < _pattern.Length && _pattern[p] == '*')
            {
                star = p++;
                resume = s;
                continue;
            }
            // Unanchored: the pattern only has to match a prefix of the path.
            if (p == _pattern.Length && (!_anchored || s == path.Length)) return true;
            if (s < path.Length && p < _pattern.Length && _pattern[p] == path[s])
            {
                p++;
                s++;
                continue;
            }
            if (star < 0 || resume >= path.Length) return false;
            p = star + 1;
            s = ++resume;
        }
    }
}
