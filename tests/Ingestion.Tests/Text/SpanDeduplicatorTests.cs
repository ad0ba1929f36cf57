using CsCheck;
using Platform.Ingestion.Text;
using Xunit;

namespace Platform.Ingestion.Tests.Text;

/// <summary>The in-process deduplicator is a hand-written open-addressing table; a HashSet is the reference it must match.</summary>
public class SpanDeduplicatorTests
{
    [Fact]
    public void Answers_as_a_hash_set_does_for_any_sequence_of_hashes()
    {
        // Small values repeat often; zero is the table's empty marker; multiples of a large power of two
        // share their low bits; full-range values exercise the common case. Lengths cross several growths.
        var hash = Gen.Frequency(
            (3, Gen.ULong[0, 64]),
            (1, Gen.Const(0UL)),
            (2, Gen.ULong[0, 4096].Select(k => k << 40)),
            (4, Gen.ULong));
        hash.Array[0, 12_000].Sample(hashes =>
        {
            var reference = new HashSet<ulong>();
            var deduplicator = new InProcessSpanDeduplicator();
            for (var i = 0; i < hashes.Length; i++)
                if (deduplicator.FirstSeen(hashes[i]) != reference.Add(hashes[i])) return false;
            return true;
        }, iter: 60);
    }

    [Fact]
    public void Expecting_a_page_of_hashes_first_changes_no_answer()
    {
        // The cleaner announces each page's spans before offering them; pages of any length, with repeats
        // inside a page and growths in the middle of one.
        var hash = Gen.Frequency((3, Gen.ULong[0, 64]), (1, Gen.Const(0UL)), (4, Gen.ULong));
        Gen.Select(hash.Array[0, 12_000], Gen.Int[1, 300]).Sample((hashes, pageLength) =>
        {
            var reference = new HashSet<ulong>();
            ISpanDeduplicator deduplicator = new InProcessSpanDeduplicator();
            for (var start = 0; start < hashes.Length; start += pageLength)
            {
                var page = hashes.AsSpan(start, Math.Min(pageLength, hashes.Length - start));
                deduplicator.Expect(page);
                foreach (var h in page)
                    if (deduplicator.FirstSeen(h) != reference.Add(h)) return false;
            }
            return true;
        }, iter: 60);
    }

    [Fact]
    public void Remembers_every_hash_through_many_growths()
    {
        var deduplicator = new InProcessSpanDeduplicator();
        var random = new Random(3);
        var hashes = new ulong[300_000];
        random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(hashes.AsSpan()));
        var distinct = hashes.Distinct().ToArray();
        Assert.All(distinct, h => Assert.True(deduplicator.FirstSeen(h)));
        Assert.All(distinct, h => Assert.False(deduplicator.FirstSeen(h)));
    }
}
