using System.Numerics;
using CsCheck;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Images;
using Xunit;

namespace Platform.Ingestion.Tests.Dedupe;

public class FirstClaimDedupeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A sample: its URL (from a small pool, so URLs repeat), and an image or none (a failed fetch).</summary>
    private sealed record Sample(string Url, string? Sha256, ulong Hash);

    /// <summary>Images from a few base hashes with a few bits flipped, so near duplicates, chains of them and exact copies occur.</summary>
    private static readonly Gen<Sample> SampleGen = Gen.Select(Gen.Int[0, 12], Gen.Int[0, 5], Gen.Int[0, 3], Gen.Int[0, 12], Gen.Int[0, 9]).Select((url, image, baseHash, flips, variant) =>
    {
        if (image == 0) return new Sample($"http://img.example/{url}.jpg", null, 0);
        var hash = 0x5A5A_F00D_1234_8765UL * (ulong)(baseHash + 1);
        var random = new Random(baseHash * 100 + variant);
        for (var i = 0; i < flips; i++) hash ^= 1UL << random.Next(64);
        // Same base and variant: same picture; the bytes repeat only for the first few variants.
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(hash + (ulong)(variant < 3 ? 0 : variant))));
        return new Sample($"http://img.example/{url}.jpg", sha, hash);
    });

    /// <summary>What <see cref="DedupeFilter"/> decides one sample at a time, in input order: the rule stated the simplest way.</summary>
    private static async Task<string?[]> SequentialAsync(Sample[] samples, DedupeOptions options)
    {
        var filter = DedupeFilter.CreateInProcess(options);
        var delta = new DedupeDelta();
        var verdicts = new string?[samples.Length];
        for (var i = 0; i < samples.Length; i++)
        {
            verdicts[i] = await filter.ClaimUrlAsync(samples[i].Url, delta, Ct);
            if (verdicts[i] is null && samples[i].Sha256 is { } sha)
                verdicts[i] = await filter.AdmitAsync(new ProcessedImage([], 1, 1, 1, 1, sha, samples[i].Hash, "jpeg"), "caption " + i, delta, Ct);
        }
        return verdicts;
    }

    [Fact]
    public void Claims_in_any_order_decide_what_the_sequential_filter_decides()
    {
        Gen.Select(SampleGen.Array[1, 40], Gen.Int, Gen.Bool, Gen.Bool, Gen.Int[1, 7]).Sample((samples, seed, byUrl, byBytes, batchSize) =>
        {
            var options = new DedupeOptions { ByUrl = byUrl, ByImageBytes = byBytes, MaxImageHammingDistance = 6 };
            var expected = SequentialAsync(samples, options).GetAwaiter().GetResult();
            // Subjects handed over shuffled, as parallel shards would claim them; positions carry the input order.
            var order = Enumerable.Range(0, samples.Length).OrderBy(_ => new Random(seed).Next()).ToArray();
            new Random(seed).Shuffle(order);
            var subjects = order.Select(i => new DedupeSubject(i, samples[i].Url, samples[i].Sha256, samples[i].Hash)).ToArray();
            var dedupe = new FirstClaimDedupe(options, new InProcessKeyClaims(), new InProcessKeyClaims(), new InProcessNearDuplicateClaims(6), batchSize);
            var decided = dedupe.DecideAsync(subjects, Ct).GetAwaiter().GetResult();
            return order.Select((i, j) => expected[i] == decided[j]).All(same => same);
        }, iter: 300);
    }

    [Fact]
    public async Task A_copy_of_a_dropped_near_duplicate_is_dropped_even_when_far_from_the_kept_original()
    {
        // B is within 6 bits of A, C within 6 of B but 10 from A: A kept, B and C dropped, in either form.
        const ulong a = 0, b = 0b11_1111, c = 0b1111_1111_1111;
        Assert.True(BitOperations.PopCount(a ^ b) <= 6 && BitOperations.PopCount(b ^ c) <= 6 && BitOperations.PopCount(a ^ c) > 6);
        Sample[] samples = [new("http://x/a", new string('a', 64), a), new("http://x/b", new string('b', 64), b), new("http://x/c", new string('c', 64), c)];
        var options = new DedupeOptions { MaxImageHammingDistance = 6 };
        string?[] expected = [null, DedupeReasons.NearDuplicateImage, DedupeReasons.NearDuplicateImage];
        Assert.Equal(expected, await SequentialAsync(samples, options));
        var dedupe = new FirstClaimDedupe(options, new InProcessKeyClaims(), new InProcessKeyClaims(), new InProcessNearDuplicateClaims(6));
        var decided = await dedupe.DecideAsync([.. samples.Select((s, i) => new DedupeSubject(i, s.Url, s.Sha256, s.Hash)).Reverse()], Ct);
        Assert.Equal(expected.Reverse().ToArray(), decided);
    }
}
