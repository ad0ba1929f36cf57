using System.Net;
using Platform.Ingestion.Fetching;
using Xunit;

namespace Platform.Ingestion.Tests.Fetching;

public class AddressPolicyTests
{
    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("::1", false)]
    [InlineData("10.0.0.1", false)]
    [InlineData("172.16.5.4", false)]
    [InlineData("172.31.255.255", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("::", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("255.255.255.255", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fc00::1", false)]
    [InlineData("ff02::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("::ffff:127.0.0.1", false)]
    [InlineData("::a00:1", false)]                   // IPv4-compatible 10.0.0.1
    [InlineData("::7f00:1", false)]                  // IPv4-compatible 127.0.0.1
    [InlineData("64:ff9b::a9fe:a9fe", false)]        // NAT64 of 169.254.169.254
    [InlineData("64:ff9b::7f00:1", false)]           // NAT64 of 127.0.0.1
    [InlineData("2002:c0a8:101::1", false)]          // 6to4 of 192.168.1.1
    [InlineData("2002:7f00:1::", false)]             // 6to4 of 127.0.0.1
    [InlineData("64:ff9b::808:808", true)]           // NAT64 of 8.8.8.8
    [InlineData("2002:808:808::1", true)]            // 6to4 of 8.8.8.8
    [InlineData("::808:808", true)]                  // IPv4-compatible 8.8.8.8
    [InlineData("8.8.8.8", true)]
    [InlineData("172.32.0.1", true)]
    [InlineData("2606:4700::1111", true)]
    public void Only_public_unicast_addresses_are_allowed_by_default(string address, bool allowed) =>
        Assert.Equal(allowed, new AddressPolicy(false, false).IsAllowed(IPAddress.Parse(address)));

    [Fact]
    public void Loopback_and_private_ranges_open_only_when_asked()
    {
        Assert.True(new AddressPolicy(allowLoopback: true, false).IsAllowed(IPAddress.Loopback));
        Assert.False(new AddressPolicy(allowLoopback: true, false).IsAllowed(IPAddress.Parse("10.0.0.1")));
        Assert.True(new AddressPolicy(false, allowPrivateNetworks: true).IsAllowed(IPAddress.Parse("10.0.0.1")));
        Assert.False(new AddressPolicy(false, allowPrivateNetworks: true).IsAllowed(IPAddress.Parse("224.0.0.1")));
    }

    [Theory]
    [InlineData("64:ff9b::7f00:1")]
    [InlineData("2002:7f00:1::")]
    [InlineData("::7f00:1")]
    [InlineData("::ffff:127.0.0.1")]
    public void Ipv6_forms_of_loopback_follow_the_loopback_switch(string address)
    {
        Assert.False(new AddressPolicy(false, allowPrivateNetworks: true).IsAllowed(IPAddress.Parse(address)));
        Assert.True(new AddressPolicy(allowLoopback: true, false).IsAllowed(IPAddress.Parse(address)));
    }

    [Fact]
    public void Any_embedded_private_ipv4_is_refused_in_every_ipv6_form()
    {
        var random = new Random(17);
        var bytes = new byte[4];
        for (var i = 0; i < 2000; i++)
        {
            random.NextBytes(bytes);
            var v4 = new IPAddress(bytes);
            var expected = new AddressPolicy(false, false).IsAllowed(v4);
            foreach (var v6 in new[] { $"64:ff9b::{bytes[0]:x2}{bytes[1]:x2}:{bytes[2]:x2}{bytes[3]:x2}", $"2002:{bytes[0]:x2}{bytes[1]:x2}:{bytes[2]:x2}{bytes[3]:x2}::1", $"::ffff:{v4}" })
                Assert.True(expected == new AddressPolicy(false, false).IsAllowed(IPAddress.Parse(v6)), $"{v6} (embedding {v4})");
        }
    }
}

public class RobotsRulesTests
{
    private const string Robots = """
        # comment
        User-agent: OtherBot
        Disallow: /

        User-agent: PlatformImageBot
        User-agent: ThirdBot
        Disallow: /images/
        Allow: /images/public/
        Disallow: /*.gif$
        Disallow:

        User-agent: *
        Disallow: /everything-for-others
        """;

    [Theory]
    [InlineData("/images/a.jpg", false)]
    [InlineData("/images/public/a.jpg", true)]
    [InlineData("/anim.gif", false)]
    [InlineData("/anim.gif?x=1", true)]
    [InlineData("/everything-for-others", true)]
    [InlineData("/photos/a.jpg", true)]
    public void Group_for_our_token_applies_with_longest_match_and_wildcards(string path, bool allowed) =>
        Assert.Equal(allowed, RobotsRules.Parse(Robots, "platformimagebot").IsAllowed(path));

    [Fact]
    public void Star_group_applies_when_no_group_names_us_and_allow_wins_ties()
    {
        var rules = RobotsRules.Parse("User-agent: *\nDisallow: /a\nAllow: /a\nDisallow: /b", "Unknown");
        Assert.True(rules.IsAllowed("/a/x"));
        Assert.False(rules.IsAllowed("/b/x"));
        Assert.True(RobotsRules.Parse("", "Unknown").IsAllowed("/anything"));
    }

    [Fact]
    public void A_byte_order_mark_does_not_hide_the_first_user_agent_line()
    {
        var rules = RobotsRules.Parse("\uFEFFUser-agent: *\nDisallow: /private/\n", "Unknown");
        Assert.False(rules.IsAllowed("/private/a.jpg"));
        Assert.True(rules.IsAllowed("/public/a.jpg"));
    }

    [Theory]
    [InlineData("\r")]
    [InlineData("\r\n")]
    [InlineData("\n")]
    public void Every_line_ending_splits_lines(string newline)
    {
        var rules = RobotsRules.Parse(string.Join(newline, "User-agent: *", "Disallow: /a", "Allow: /a/open"), "Unknown");
        Assert.False(rules.IsAllowed("/a/closed"));
        Assert.True(rules.IsAllowed("/a/open/x"));
        Assert.True(rules.IsAllowed("/b"));
    }

    [Fact]
    public void Patterns_match_as_the_reference_regex_translation_does()
    {
        // The reference: RFC 9309's * and $ translated to an anchored regular expression.
        static bool Reference(string pattern, string path)
        {
            var anchored = pattern.EndsWith('$');
            var body = System.Text.RegularExpressions.Regex.Escape(anchored ? pattern[..^1] : pattern).Replace(@"\*", ".*");
            return System.Text.RegularExpressions.Regex.IsMatch(path, "^" + body + (anchored ? "$" : ""), System.Text.RegularExpressions.RegexOptions.Singleline);
        }
        var random = new Random(9309);
        const string alphabet = "/ab*.";
        for (var i = 0; i < 20_000; i++)
        {
            var pattern = new string(Enumerable.Range(0, random.Next(1, 7)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            if (random.Next(3) == 0) pattern += "$";
            var path = new string(Enumerable.Range(0, random.Next(0, 9)).Select(_ => alphabet[random.Next(alphabet.Length - 1)]).ToArray());
            Assert.True(Reference(pattern, path) == new RobotsPattern(pattern).IsMatch(path), $"pattern '{pattern}' path '{path}'");
        }
    }

    [Fact]
    public void A_pathological_pattern_is_matched_quickly_and_never_throws()
    {
        // Nested-wildcard patterns make backtracking regexes exponential (or, with a timeout, throw).
        var rules = RobotsRules.Parse("User-agent: *\nDisallow: /" + string.Concat(Enumerable.Repeat("*a", 200)) + "b$\n", "Unknown");
        var path = "/" + new string('a', 5000);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 10; i++) Assert.True(rules.IsAllowed(path));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }
}
