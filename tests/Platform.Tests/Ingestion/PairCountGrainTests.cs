using Platform.Grains.Ingestion;
using Platform.Ingestion.Filters;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Ingestion;

[Collection(SharedClusterCollection.Name)]
public sealed class PairCountGrainTests(SharedClusterFixture shared)
{
    private static string NewScope() => "counts-" + Guid.NewGuid().ToString("N");

    /// <summary>Observations drawn from small pools so that alt texts and images repeat across "workers".</summary>
    private static List<(string Image, string Alt)> Observations(Random random, int images, int alts, int count) =>
        Enumerable.Range(0, count).Select(_ =>
        {
            var alt = $"a photo of thing {random.Next(alts)}";
            // Case and spacing variants must count as the same text, as in-process.
            if (random.Next(4) == 0) alt = "  " + alt.ToUpperInvariant() + " ";
            return ($"http://img{random.Next(3)}.example/{random.Next(images)}.jpg", alt);
        }).ToList();

    [Fact]
    public async Task Distributed_counts_give_the_same_frequency_decisions_as_the_in_process_counter()
    {
        var rejectedForAlt = 0;
        var rejectedForImage = 0;
        var kept = 0;
        for (var seed = 1; seed <= 12; seed++)
        {
            var random = new Random(seed);
            var options = new FrequencyFilterOptions { MaxImagesPerAltText = random.Next(1, 6), MaxAltTextsPerImage = random.Next(1, 6) };
            var observations = Observations(random, images: random.Next(1, 40), alts: random.Next(1, 40), count: random.Next(1, 600));

            var local = new InProcessPairFrequencyCounter(options);
            foreach (var (image, alt) in observations) local.Observe(image, alt);

            // Three workers observe disjoint slices (with small batches, so flushes happen mid-stream), then a
            // fourth process filters from a fetched snapshot.
            var scope = NewScope();
            var workers = Enumerable.Range(0, 3).Select(_ => new GrainPairFrequencyCounter(shared.Grains, scope, options, batchSize: 1 + random.Next(16))).ToArray();
            await Task.Run(() =>
            {
                for (var i = 0; i < observations.Count; i++) workers[i % 3].Observe(observations[i].Image, observations[i].Alt);
            }, TestContext.Current.CancellationToken);
            await Task.WhenAll(workers.Select(w => w.FlushAsync()));
            var filter = new GrainPairFrequencyCounter(shared.Grains, scope, options);
            await filter.PrefetchAsync(observations);

            foreach (var (image, alt) in observations)
            {
                var expected = FrequencyFilter.Check(local, options, image, alt);
                Assert.Equal(expected, FrequencyFilter.Check(filter, options, image, alt));
                switch (expected)
                {
                    case null: kept++; break;
                    case "alt_shared_by_too_many_images": rejectedForAlt++; break;
                    default: rejectedForImage++; break;
                }
            }
            await filter.ReleaseAsync();
        }
        // The cases must exercise both filters and keep some pairs, or equality would prove little.
        Assert.True(kept > 0 && rejectedForAlt > 0 && rejectedForImage > 0, $"kept {kept}, alt {rejectedForAlt}, image {rejectedForImage}");
    }

    [Fact]
    public async Task Observing_the_same_pairs_again_changes_no_count()
    {
        var options = new FrequencyFilterOptions();
        var observations = Observations(new Random(7), images: 50, alts: 50, count: 2000);
        var scope = NewScope();
        var once = new GrainPairFrequencyCounter(shared.Grains, scope, options);
        await Task.Run(() => { foreach (var (image, alt) in observations) once.Observe(image, alt); }, TestContext.Current.CancellationToken);
        await once.FlushAsync();
        await once.PrefetchAsync(observations);
        var before = observations.Select(o => (once.DistinctImagesFor(o.Alt), once.DistinctAltTextsFor(o.Image))).ToList();

        // A work unit redone after a lost lease re-sends its observations.
        var redo = new GrainPairFrequencyCounter(shared.Grains, scope, options);
        await Task.Run(() => { foreach (var (image, alt) in observations) redo.Observe(image, alt); }, TestContext.Current.CancellationToken);
        await redo.FlushAsync();
        await redo.PrefetchAsync(observations);
        Assert.Equal(before, observations.Select(o => (redo.DistinctImagesFor(o.Alt), redo.DistinctAltTextsFor(o.Image))).ToList());
        Assert.Contains(before, b => b.Item1 > 1);
    }

    [Fact]
    public async Task Observations_travel_in_batches_of_thousands_not_one_call_per_pair()
    {
        var options = new FrequencyFilterOptions();
        var random = new Random(3);
        var observations = Enumerable.Range(0, 200_000).Select(i => ($"http://img.example/{random.Next(100_000)}.jpg", $"caption {random.Next(100_000)}")).ToList();
        var counter = new GrainPairFrequencyCounter(shared.Grains, NewScope(), options, batchSize: 2048);
        await Task.Run(() => { foreach (var (image, alt) in observations) counter.Observe(image, alt); }, TestContext.Current.CancellationToken);
        await counter.FlushAsync();
        var addCalls = counter.Calls;
        // Two entries per observation, at most one partially filled batch per partition at the end.
        Assert.InRange(addCalls, 1, observations.Count * 2 / 2048 + PairCountPartitions.Count);
        await counter.PrefetchAsync(observations);
        Assert.InRange(counter.Calls - addCalls, 1, PairCountPartitions.Count);
        Assert.Equal(1, counter.DistinctAltTextsFor(observations[0].Item1) > 0 ? 1 : 0);
        await counter.ReleaseAsync();
    }

    [Fact]
    public async Task A_key_sent_to_the_wrong_partition_is_refused()
    {
        var key = 0x0100_0000_0000_0000UL; // partition 01
        var grain = shared.Grains.GetGrain<IPairCountGrain>(PairCountPartitions.Key(NewScope(), 2));
        var error = await Assert.ThrowsAnyAsync<Exception>(() => grain.Add(new PairCountBatch([key], [1], [], [], 11, 1001)));
        Assert.Contains("belongs to partition 01", error.ToString());
    }

    [Fact]
    public async Task Lookups_outside_the_prefetched_snapshot_throw_instead_of_answering_zero()
    {
        var counter = new GrainPairFrequencyCounter(shared.Grains, NewScope(), new FrequencyFilterOptions());
        await counter.PrefetchAsync([("http://img.example/1.jpg", "a dog")]);
        Assert.Equal(0, counter.DistinctImagesFor("A DOG "));
        Assert.Throws<InvalidOperationException>(() => counter.DistinctImagesFor("a cat"));
        Assert.Throws<InvalidOperationException>(() => counter.DistinctAltTextsFor("http://img.example/2.jpg"));
    }
}
