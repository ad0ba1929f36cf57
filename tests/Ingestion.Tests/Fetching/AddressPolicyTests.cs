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
}
