using CsCheck;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Warc;

namespace Platform.Ingestion.Tests;

/// <summary>Random damage to a valid file never escapes the reader and never costs the records before it.</summary>
public class WarcPropertyTests
{
    private static readonly WarcSamples.Sample Gzipped = WarcSamples.Pages(12);
    private static readonly WarcSamples.Sample Plain = WarcSamples.Pages(12, gzip: false);

    private static List<string?> Read(byte[] bytes)
    {
        using var reader = new WarcReader(new MemoryStream(bytes), new FunnelStats());
        return reader.ReadAll(TestContext.Current.CancellationToken).Select(r => r.TargetUri).ToList();
    }

    private static void AssertPrefixKept(WarcSamples.Sample sample, List<string?> read, long damageAt)
    {
        var intact = sample.RecordEnds.Count(end => end <= damageAt);
        Assert.True(read.Count >= intact, $"read {read.Count} records, {intact} precede the damage at {damageAt}");
        Assert.Equal(sample.TargetUris.Take(intact), read.Take(intact));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Truncation_never_throws_and_keeps_earlier_records(bool gzip)
    {
        var sample = gzip ? Gzipped : Plain;
        Gen.Int[0, sample.Bytes.Length].Sample(cut =>
        {
            var read = Read(sample.Bytes[..cut]);
            AssertPrefixKept(sample, read, cut);
        }, iter: 150);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Corruption_never_throws_and_keeps_earlier_records(bool gzip)
    {
        var sample = gzip ? Gzipped : Plain;
        Gen.Select(Gen.Int[0, sample.Bytes.Length - 1], Gen.Int[1, 16], Gen.Byte[1, 255]).Sample((at, span, mask) =>
        {
            var damaged = (byte[])sample.Bytes.Clone();
            for (var i = at; i < Math.Min(damaged.Length, at + span); i++) damaged[i] ^= mask;
            var read = Read(damaged);
            AssertPrefixKept(sample, read, at);
            Assert.True(read.Count <= sample.TargetUris.Count + 1);
        }, iter: 150);
    }

    [Fact]
    public void Damage_in_one_member_leaves_every_later_record_readable()
    {
        Gen.Int[0, Gzipped.RecordEnds.Count - 2].Select(Gen.Int[20, 200]).Sample((record, offset) =>
        {
            var start = record == 0 ? 0 : (int)Gzipped.RecordEnds[record - 1];
            var damaged = (byte[])Gzipped.Bytes.Clone();
            var at = Math.Min(start + offset, (int)Gzipped.RecordEnds[record] - 10);
            for (var i = at; i < at + 8; i++) damaged[i] ^= 0x5a;
            var read = Read(damaged);
            foreach (var later in Gzipped.TargetUris.Skip(record + 1)) Assert.Contains(later, read);
        }, iter: 60);
    }
}
